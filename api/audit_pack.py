"""The audit pack (terms, calendar, events, clock timeline, history digest, replay check) and
the raw history with payloads decoded. Both work from the archive long after Temporal's retention,
and read every run of a request that continued as new.
Database reads run on the thread pool; the history fetch and the replay are awaited."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import Connection, Row, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError

from api.access import Action, may, require
from api.problems import Problem, unavailable
from api.reads import load_request, request_view
from api.schemas import RequestOut
from api.state import AppState
from api.views import describe_entry, pinned_entry
from clients.history import decoded_history, every_run, verify_replay
from runtime.codec import EncryptionCodec, unseal_text
from runtime.temporal import build_data_converter
from sla.calendar.timeutil import SHANGHAI
from sla.policy import mask_policy_no
from store.keys import Principal
from store.models import (
    ApiKeyRow,
    ClockOutcomeRow,
    ClockRow,
    CorrectionReviewRow,
    CorrectionRow,
    EventRow,
    HistoryArchiveRow,
    RecomputeRow,
    RefusedEventRow,
    RequestRow,
    ThresholdRow,
    table_of,
)
from store.quota import claim_of
from workflows.ids import request_workflow_id

ARCHIVE, EVENTS, WARNINGS = table_of(HistoryArchiveRow), table_of(EventRow), table_of(ThresholdRow)
OUTCOMES, CORRECTIONS, RECOMPUTES = table_of(ClockOutcomeRow), table_of(CorrectionRow), table_of(RecomputeRow)
CLOCKS, REFUSED, KEYS = table_of(ClockRow), table_of(RefusedEventRow), table_of(ApiKeyRow)
REQUESTS, REVIEWS = table_of(RequestRow), table_of(CorrectionReviewRow)


def _plain(value: Any) -> Any:
    """JSON-ready: instants as RFC 3339 with +08:00, like every other answer of the API."""
    if hasattr(value, "astimezone") and hasattr(value, "isoformat"):
        return value.astimezone(SHANGHAI).isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _senders(connection: Connection, *logs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Who recorded what, as people read it: each sender (role:scope:key id) with its key's label.
    Never the key itself: the secret is not stored, and the label is what an admin named the key."""
    senders = {str(e["sender"]) for log in logs for e in log if e.get("sender")}
    key_ids = {sender.rsplit(":", 1)[-1] for sender in senders}
    labels = dict(connection.execute(select(KEYS.c.key_id, KEYS.c.label).where(KEYS.c.key_id.in_(key_ids))).all())
    described = {}
    for sender in sorted(senders):
        role, _, rest = sender.partition(":")
        scope, _, key_id = rest.rpartition(":")
        described[sender] = {"role": role, "scope": scope, "key_id": key_id, "label": labels.get(key_id, "")}
    return described


@dataclass
class _Stored:
    row: Row[Any]
    view: RequestOut
    archive: list[Row[Any]]  # one row per archived run, first run first
    rows: dict[str, list[dict[str, Any]]]
    clocks_timeline: dict[tuple[str, int], list[dict[str, Any]]]
    senders: dict[str, dict[str, str]]
    quota: Row[Any] | None = None  # the use of the service's quota this request holds


def _of(connection: Connection, table: Any, request_id: str, *exclude: str) -> list[dict[str, Any]]:
    rows = connection.execute(select(table).where(table.c.request_id == request_id)).all()
    return [{k: v for k, v in r._mapping.items() if k not in ("request_id", *exclude)} for r in rows]


def _load(state: AppState, principal: Principal, request_id: str, action: Action) -> _Stored:
    with state.engine.connect() as connection:
        row = load_request(connection, principal, request_id)
        require(principal, action)
        view = request_view(connection, principal, request_id, state.calendars.current(), state.now())
        archive = _archived(connection, request_id)
        clocks = connection.execute(select(CLOCKS).where(CLOCKS.c.request_id == request_id)).all()
        events = sorted(_of(connection, EVENTS, request_id), key=lambda e: e["seq"])
        refused = sorted(_of(connection, REFUSED, request_id, "id"), key=lambda e: e["received_at"])
        return _Stored(
            row,
            view,
            archive,
            {
                "events": events,
                "warnings": _of(connection, WARNINGS, request_id),
                "recomputes": _of(connection, RECOMPUTES, request_id),
                "corrections": _of(connection, CORRECTIONS, request_id),
                "outcomes": _of(connection, OUTCOMES, request_id),
                "refused_events": refused,
                "correction_reviews": sorted(_of(connection, REVIEWS, request_id), key=lambda r: r["event_seq"]),
            },
            {(c.clock_id, c.instance): list((c.view or {}).get("timeline", [])) for c in clocks},
            _senders(connection, events, refused),
            claim_of(connection, request_id),
        )


def _archived(connection: Connection, request_id: str) -> list[Row[Any]]:
    return list(connection.execute(select(ARCHIVE).where(ARCHIVE.c.request_id == request_id).order_by(ARCHIVE.c.run)))


@dataclass(frozen=True)
class RunHistory:
    """One run's history (a request that continued as new has several), and where it was read."""

    run: int
    run_id: str
    history: WorkflowHistory
    origin: str  # archive | temporal
    archived_json: str | None = None  # the archive's exact text (its sha256 is of these bytes)


async def _history(state: AppState, request_id: str, archive: list[Row[Any]]) -> list[RunHistory] | None:
    """Every run's history, first to last: from the archive once the request closed, else the runs
    archived so far and the rest from Temporal; None if they cannot all be had."""
    workflow_id = request_workflow_id(request_id)
    stored = {r.run_id: WorkflowHistory.from_json(r.workflow_id, r.history_json) for r in archive}
    texts = {r.run_id: r.history_json for r in archive}
    if any(r.closing for r in archive):
        return [RunHistory(r.run, r.run_id, stored[r.run_id], "archive", r.history_json) for r in archive]
    try:
        client = await state.client()
        runs = await every_run(client, workflow_id, stored)
    except RPCError:
        return None
    except RuntimeError as error:  # the lazy client's first connection failed: Temporal is unreachable
        if "connect" not in str(error).lower():
            raise
        return None
    return [
        RunHistory(n, run_id, history, "archive" if run_id in stored else "temporal", texts.get(run_id))
        for n, (run_id, history) in enumerate(runs, start=1)
    ]


def _digest(runs: list[RunHistory]) -> tuple[list[str], str]:
    """Each run's sha256 of its JSON (the archived bytes as stored: serializing again may order a
    payload's metadata differently), and the history's: a single run's own (as before runs were
    numbered), else the sha256 of the runs' digests, one a line, in order."""
    texts = [r.archived_json if r.archived_json is not None else r.history.to_json() for r in runs]
    digests = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    whole = digests[0] if len(digests) == 1 else hashlib.sha256("\n".join(digests).encode()).hexdigest()
    return digests, whole


def _quota(entry: Any, claim: Row[Any] | None) -> dict[str, Any] | None:
    """The use this request holds of its service's quota per policy year, and an admin's override."""
    if claim is None:
        return None
    return {
        "quota_per_policy_year": claim.quota,
        "note": entry.quota_note if entry else None,
        "policy_year_start": claim.policy_year_start.isoformat(),
        "use": claim.use_no,
        "claimed_at": claim.claimed_at,
        "claimed_by": claim.claimed_by,
        "override": {"reason": claim.override_reason, "by": claim.claimed_by} if claim.override_reason else None,
    }


async def audit_pack(state: AppState, principal: Principal, request_id: str) -> dict[str, Any]:
    """Everything an insurer needs to check one request's SLA decisions."""
    return await _pack(state, principal, request_id, Action.READ_AUDIT_PACK, replayed=True)


async def audit_page_pack(state: AppState, principal: Principal, request_id: str) -> dict[str, Any]:
    """The same pack for the audit page (web/pages.py): any key that may see the request; the history
    is fetched and replayed for the roles the audit endpoint serves, not for a vendor's coordinator.
    The page shows the policy number masked (never the insured's name or ID number)."""
    pack = await _pack(
        state, principal, request_id, Action.READ_REQUEST_PAGE, replayed=may(principal, Action.READ_AUDIT_PACK)
    )
    pack["request"]["policy_no_masked"] = await run_in_threadpool(_masked_policy_no, state, request_id)
    return pack


def _masked_policy_no(state: AppState, request_id: str) -> str | None:
    with state.engine.connect() as connection:
        sealed = connection.execute(select(REQUESTS.c.sealed_personal_data).where(REQUESTS.c.id == request_id)).scalar()
    if not sealed:
        return None
    try:
        personal = json.loads(unseal_text(EncryptionCodec(state.settings.keys()), sealed))
    except (ValueError, InvalidTag):  # sealed with a key this process no longer holds
        return None
    return mask_policy_no(str(personal.get("policy_no", "")))


async def _pack(
    state: AppState, principal: Principal, request_id: str, action: Action, *, replayed: bool
) -> dict[str, Any]:
    stored = await run_in_threadpool(_load, state, principal, request_id, action)
    runs = await _history(state, request_id, stored.archive) if replayed else None
    history_info: dict[str, Any] | None = None
    replay: dict[str, Any] = {
        "verified": False,
        "failure": "history unavailable: not archived and Temporal unreachable"
        if replayed
        else "not checked: the replay check is for auditors, operations and admins",
    }
    if runs:
        digests, whole = await run_in_threadpool(_digest, runs)
        history_info = _history_info(runs, digests, whole, stored.archive)
        replay = await _replay_check(state, runs)
    return dict(_plain(_pack_of(stored, history_info, replay)))


def _history_info(runs: list[RunHistory], digests: list[str], whole: str, archive: list[Row[Any]]) -> dict[str, Any]:
    """Where the history came from, its digests, and whether they match the archived ones."""
    info: dict[str, Any] = {
        "origin": "archive" if all(r.origin == "archive" for r in runs) else "temporal",
        "event_count": sum(len(r.history.events) for r in runs),
        "sha256": whole,
        "runs": [
            {
                "run": r.run,
                "run_id": r.run_id,
                "origin": r.origin,
                "event_count": len(r.history.events),
                "sha256": digest,
            }
            for r, digest in zip(runs, digests, strict=True)
        ],
    }
    if archive:
        by_run = {r.run_id: r.sha256 for r in archive}
        info |= {
            "archived_at": archive[-1].archived_at,
            "archived_sha256_matches": all(
                by_run[r.run_id] == digest for r, digest in zip(runs, digests, strict=True) if r.run_id in by_run
            ),
        }
    return info


async def _replay_check(state: AppState, runs: list[RunHistory]) -> dict[str, Any]:
    converter = build_data_converter(state.settings.keys())
    failures = []
    for r in runs:  # every run: the last one's state is only as good as the runs that handed it over
        failure = await verify_replay(r.history, converter)
        if failure is not None:
            failures.append(f"run {r.run}: {failure}")
    return {
        "verified": not failures,
        "failure": "; ".join(failures) or None,
        "runs_verified": len(runs) - len(failures),
        "checked": "every run's history replayed with the current ServiceRequestWorkflow code",
        "checked_at": state.now(),
    }


def _pack_of(stored: _Stored, history_info: dict[str, Any] | None, replay: dict[str, Any]) -> dict[str, Any]:
    row, entry = stored.row, pinned_entry(stored.row)
    return {
        "request": {
            "id": row.id,
            "service_id": row.service_id,
            "insurer_id": row.insurer_id,
            "vendor_id": row.vendor_id,
            "status": row.status,
            "opened_at": row.opened_at,
            "closed_at": row.closed_at,
            "closed_received_at": row.closed_received_at,
        },
        "terms": {
            "catalog_digest": row.catalog_digest,
            "catalog_version": row.catalog_version,
            "service": describe_entry(entry) if entry else None,
        },
        "calendar": {"fingerprint": row.calendar_fingerprint, "years": row.calendar_sources},
        "quota": _quota(entry, stored.quota),
        "events": stored.rows["events"],
        "clocks": [
            clock | {"timeline": stored.clocks_timeline.get((clock["clock_id"], clock["instance"]), [])}
            for clock in (c.model_dump(mode="json") for c in stored.view.clocks)
        ],
        "warnings": stored.rows["warnings"],
        "recomputes": stored.rows["recomputes"],
        "corrections": stored.rows["corrections"],
        "outcomes": stored.rows["outcomes"],
        "refused_events": stored.rows["refused_events"],
        "senders": stored.senders,
        # Events held for the insurer's review, pending or decided (who, when): never dropped.
        "correction_reviews": stored.rows["correction_reviews"],
        "history": history_info,
        "replay": replay,
    }


async def raw_history(state: AppState, principal: Principal, request_id: str) -> dict[str, Any]:
    """The raw workflow history, payloads decoded (personal data included): auditors and admins only."""

    def load() -> list[Row[Any]]:
        with state.engine.connect() as connection:
            load_request(connection, principal, request_id)
            require(principal, Action.READ_RAW_HISTORY)
            return _archived(connection, request_id)

    archive = await run_in_threadpool(load)
    runs = await _history(state, request_id, archive)
    if runs is None:
        raise unavailable("the history is not archived yet and Temporal is unreachable")
    if not any(r.history.events for r in runs):
        raise Problem(404, "Not Found", "the workflow has no history")
    converter = build_data_converter(state.settings.keys())
    decoded = [await decoded_history(r.history, converter) for r in runs]
    return {
        "workflow_id": runs[-1].history.workflow_id,
        "origin": "archive" if all(r.origin == "archive" for r in runs) else "temporal",
        "events": [event for events in decoded for event in events],  # every run's, first run first
        "runs": [
            {"run": r.run, "run_id": r.run_id, "origin": r.origin, "event_count": len(events)}
            for r, events in zip(runs, decoded, strict=True)
        ],
    }
