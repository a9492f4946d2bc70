"""Audit: the pack (terms, calendar, events, clock timeline, history digest, replay check) and
the raw history with payloads decoded. Both work from the archive long after Temporal's retention."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from sqlmodel import Session, select
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError

from api.deps import PrincipalDep, SessionDep, StateDep, require
from api.problems import Problem, unavailable
from api.routes.requests import PROBLEM_RESPONSES
from api.schemas import Identifier
from api.state import AppState
from api.views import describe_entry, load_visible, pinned_entry, request_view
from runtime.history import decoded_history, verify_replay
from runtime.temporal import build_data_converter
from store.keys import Role
from store.models import (
    ClockOutcomeRow,
    ClockRow,
    CorrectionRow,
    EventRow,
    HistoryArchiveRow,
    RecomputeRow,
    RequestRow,
    ThresholdRow,
)
from workflows.ids import request_workflow_id

router = APIRouter(prefix="/v1/requests", tags=["audit"])


async def _history(state: AppState, session: Session, row: RequestRow) -> tuple[WorkflowHistory, str] | None:
    """The archived history, else the live one from Temporal; None if neither can be had."""
    archive = session.get(HistoryArchiveRow, row.id)
    if archive is not None:
        return WorkflowHistory.from_json(archive.workflow_id, archive.history_json), "archive"
    try:
        client = await state.client()
        history = await client.get_workflow_handle(request_workflow_id(row.id)).fetch_history()
    except RPCError:
        return None
    return history, "temporal"


def _rows(session: Session, model: Any, request_id: str) -> list[Any]:
    return list(session.exec(select(model).where(model.request_id == request_id)).all())


@router.get("/{request_id}/audit", responses=PROBLEM_RESPONSES)
async def audit_pack(
    request_id: Identifier, principal: PrincipalDep, state: StateDep, session: SessionDep
) -> dict[str, Any]:
    """Everything an insurer needs to check one request's SLA decisions."""
    row = load_visible(session, principal, request_id)
    require(principal, Role.AUDITOR, Role.ADMIN, Role.OPERATIONS)
    view = request_view(session, row, state.calendars.current(), state.now())
    entry = pinned_entry(row)
    found = await _history(state, session, row)
    history_info: dict[str, Any] | None = None
    replay: dict[str, Any] = {
        "verified": False,
        "failure": "history unavailable: not archived and Temporal unreachable",
    }
    if found is not None:
        history, origin = found
        text = history.to_json()
        history_info = {
            "origin": origin,
            "event_count": len(history.events),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        archive = session.get(HistoryArchiveRow, row.id)
        if archive is not None:
            history_info |= {
                "archived_at": archive.archived_at,
                "archived_sha256_matches": archive.sha256 == history_info["sha256"],
            }
        failure = await verify_replay(history, build_data_converter(state.settings.keys()))
        replay = {
            "verified": failure is None,
            "failure": failure,
            "checked": "the history replayed with the current ServiceRequestWorkflow code",
        }
    events = session.exec(select(EventRow).where(EventRow.request_id == row.id).order_by(EventRow.seq)).all()  # type: ignore[arg-type]
    return {
        "request": {
            "id": row.id,
            "service_id": row.service_id,
            "insurer_id": row.insurer_id,
            "vendor_id": row.vendor_id,
            "status": row.status,
            "opened_at": row.opened_at,
            "closed_at": row.closed_at,
        },
        "terms": {
            "catalog_digest": row.catalog_digest,
            "catalog_version": row.catalog_version,
            "service": describe_entry(entry) if entry else None,
        },
        "calendar": {"fingerprint": row.calendar_fingerprint, "years": row.calendar_sources},
        "events": [
            {
                "seq": e.seq,
                "type": e.type,
                "sender": e.sender,
                "occurred_at": e.occurred_at,
                "received_at": e.received_at,
                "idempotency_key": e.idempotency_key,
                "data": e.data,
            }
            for e in events
        ],
        "clocks": [c.model_dump() | {"timeline": _timeline(session, row.id, c.clock_id)} for c in view.clocks],
        "warnings": [
            {
                "clock_id": t.clock_id,
                "cycle": t.cycle,
                "fraction": t.fraction,
                "fired_at": t.fired_at,
                "recorded_at": t.recorded_at,
            }
            for t in _rows(session, ThresholdRow, row.id)
        ],
        "recomputes": [r.model_dump(exclude={"request_id"}) for r in _rows(session, RecomputeRow, row.id)],
        "corrections": [c.model_dump(exclude={"request_id"}) for c in _rows(session, CorrectionRow, row.id)],
        "outcomes": [o.model_dump(exclude={"id", "request_id"}) for o in _rows(session, ClockOutcomeRow, row.id)],
        "history": history_info,
        "replay": replay,
    }


def _timeline(session: Session, request_id: str, clock_id: str) -> list[dict[str, Any]]:
    clock = session.get(ClockRow, (request_id, clock_id))
    return list(clock.timeline) if clock else []


@router.get("/{request_id}/history", responses=PROBLEM_RESPONSES)
async def raw_history(
    request_id: Identifier, principal: PrincipalDep, state: StateDep, session: SessionDep
) -> dict[str, Any]:
    """The raw workflow history, payloads decoded (personal data included): auditors and admins only."""
    row = load_visible(session, principal, request_id)
    require(principal, Role.AUDITOR, Role.ADMIN)
    found = await _history(state, session, row)
    if found is None:
        raise unavailable("the history is not archived yet and Temporal is unreachable")
    history, origin = found
    if not history.events:
        raise Problem(404, "Not Found", "the workflow has no history")
    return {
        "workflow_id": history.workflow_id,
        "origin": origin,
        "events": await decoded_history(history, build_data_converter(state.settings.keys())),
    }
