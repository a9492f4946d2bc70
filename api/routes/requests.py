"""Requests: open, read, list, send events."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import IdempotencyKey, PrincipalDep, SessionDep, StateDep, require
from api.problems import Problem, from_application_error, is_unreachable, unavailable
from api.schemas import EventCreate, Identifier, RequestCreate, RequestOut, RequestPage, ServiceId
from api.views import load_visible, request_view, summary, visible
from runtime.requests import open_request
from sla.engine.rules import CLOCK_SKEW_TOLERANCE
from store.keys import Principal, Role
from store.models import ClockRow, RequestRow, VendorRow
from workflows.ids import request_workflow_id
from workflows.messages import Insured, RecordEventInput
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1/requests", tags=["requests"])
EXTERNAL_REF_NAMESPACE = uuid.UUID("6b1f3a52-8d4e-4c9b-9d57-1f1d8c3e2a10")
UPDATE_TIMEOUT = timedelta(seconds=15)
PROJECTION_WAIT_SECONDS = 10.0
PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "no or bad key",
        403: "role may not",
        404: "not found or not visible",
        409: "not allowed now",
        422: "invalid",
        503: "Temporal unreachable",
    }.items()
}


def _scoped_vendor(principal: Principal, vendor_id: str) -> None:
    require(principal, Role.COORDINATOR, Role.ADMIN)
    if principal.role is Role.COORDINATOR and vendor_id != principal.vendor_id:
        raise Problem(403, "Forbidden", f"this key opens requests for vendor {principal.vendor_id} only")


async def _wait_for_projection(state_engine, request_id: str) -> RequestRow | None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + PROJECTION_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        with Session(state_engine) as session:
            row = session.get(RequestRow, request_id)
            if row is not None:
                return row
        await asyncio.sleep(0.1)
    return None


@router.post(
    "",
    status_code=201,
    response_model=RequestOut,
    responses={
        **PROBLEM_RESPONSES,
        200: {"model": RequestOut, "description": "already opened with this external_ref: the first request"},
        202: {
            "description": "opened; no worker has computed its clocks yet",
            "content": {"application/problem+json": {}},
        },
    },
)
async def open_service_request(
    body: RequestCreate, principal: PrincipalDep, state: StateDep, session: SessionDep, response: Response
) -> RequestOut | JSONResponse:
    """Open a request. With `external_ref`, opening twice returns the first request (200)."""
    _scoped_vendor(principal, body.vendor_id)
    if session.get(VendorRow, body.vendor_id) is None:
        raise Problem(
            422,
            "Unknown Vendor",
            f"no vendor {body.vendor_id!r}; an admin adds vendors with `slatrack vendors add`",
            rule="vendor.unknown",
        )
    state.catalog.get(body.service_id)  # UnknownServiceError -> 422
    now = state.now()
    opened_at = body.opened_at or now
    if opened_at > now + CLOCK_SKEW_TOLERANCE:
        raise Problem(
            422,
            "Unprocessable Content",
            f"opened_at {opened_at.isoformat()} is in the future",
            rule="request.opened_in_future",
        )
    request_id = (
        uuid.uuid5(EXTERNAL_REF_NAMESPACE, f"{body.vendor_id}:{body.external_ref}").hex
        if body.external_ref
        else uuid.uuid4().hex
    )
    response.headers["Location"] = f"/v1/requests/{request_id}"
    existing = session.get(RequestRow, request_id)
    if existing is not None:
        response.status_code = 200
        return request_view(session, existing, state.calendars.current(), state.now())
    client = await state.client()
    try:
        await open_request(
            client,
            state.catalog,
            task_queue=state.settings.task_queue,
            service_id=body.service_id,
            vendor_id=body.vendor_id,
            policy_no=body.policy_no,
            insured=Insured(name=body.insured.name, id_number=body.insured.id_number),
            opened_at=opened_at,
            external_ref=body.external_ref,
            request_id=request_id,
        )
    except RPCError as error:
        if is_unreachable(error):
            raise unavailable() from None
        raise
    row = await _wait_for_projection(state.engine, request_id)
    session.expire_all()
    if row is None:
        raise Problem(
            202,
            "Accepted",
            f"the request was opened but no worker has computed its clocks yet; GET /v1/requests/{request_id} shortly",
            headers={"Location": f"/v1/requests/{request_id}"},
        )
    return request_view(session, session.get(RequestRow, request_id) or row, state.calendars.current(), state.now())


@router.get("/{request_id}", response_model=RequestOut, responses=PROBLEM_RESPONSES)
def get_request(request_id: Identifier, principal: PrincipalDep, state: StateDep, session: SessionDep) -> RequestOut:
    """The request view: state, events, clocks (breached as soon as due_at passes)."""
    row = load_visible(session, principal, request_id)
    return request_view(session, row, state.calendars.current(), state.now())


def _encode_cursor(row: RequestRow) -> str:
    return base64.urlsafe_b64encode(json.dumps([row.opened_at.isoformat(), row.id]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        opened, request_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(opened), str(request_id)
    except (ValueError, TypeError):
        raise Problem(
            422, "Unprocessable Content", "cursor is not one this API returned", rule="cursor.invalid"
        ) from None


ClockStateFilter = Literal["pending", "running", "paused", "met", "breached", "exempt", "cancelled", "at_risk"]


@router.get("", response_model=RequestPage, responses=PROBLEM_RESPONSES)
def list_requests(
    principal: PrincipalDep,
    session: SessionDep,
    app_state: StateDep,
    vendor: Identifier | None = None,
    service: ServiceId | None = None,
    insurer: Identifier | None = None,
    state: Literal["open", "completed", "cancelled"] | None = None,
    clock_state: ClockStateFilter | None = None,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> RequestPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    now = app_state.now()
    query = select(RequestRow)
    if principal.role is Role.COORDINATOR:
        query = query.where(RequestRow.vendor_id == principal.vendor_id)
    if principal.role is Role.AUDITOR:
        query = query.where(RequestRow.insurer_id == principal.insurer_id)
    filters = {"vendor_id": vendor, "service_id": service, "insurer_id": insurer, "status": state}
    for column, value in filters.items():
        if value is not None:
            query = query.where(col(getattr(RequestRow, column)) == value)
    for bound, instant in (("from", opened_from), ("to", opened_to)):
        if instant is not None and instant.tzinfo is None:
            raise Problem(
                422, "Timezone Required", f"opened_{bound} needs an offset, e.g. +08:00", rule="time.timezone_required"
            )
    if opened_from is not None:
        query = query.where(col(RequestRow.opened_at) >= opened_from)
    if opened_to is not None:
        query = query.where(col(RequestRow.opened_at) < opened_to)
    if clock_state is not None:
        same_request = col(ClockRow.request_id) == col(RequestRow.id)
        query = query.where(exists().where(and_(same_request, _clock_condition(clock_state, now))))
    if cursor:
        at, last_id = _decode_cursor(cursor)
        opened = col(RequestRow.opened_at)
        query = query.where(or_(opened < at, and_(opened == at, col(RequestRow.id) < last_id)))
    rows = session.exec(query.order_by(RequestRow.opened_at.desc(), RequestRow.id.desc()).limit(limit + 1)).all()  # type: ignore[attr-defined]
    page = list(rows[:limit])
    clocks: dict[str, list[ClockRow]] = {}
    if page:
        for clock in session.exec(select(ClockRow).where(ClockRow.request_id.in_([r.id for r in page]))).all():  # type: ignore[attr-defined]
            clocks.setdefault(clock.request_id, []).append(clock)
    return RequestPage(
        items=[summary(r, clocks.get(r.id, []), now) for r in page if visible(principal, r)],
        next_cursor=_encode_cursor(page[-1]) if len(rows) > limit else None,
    )


def _clock_condition(clock_state: str, now: datetime) -> ColumnElement[bool]:
    """The same reading as sla.engine.reading, in SQL: breached as soon as due_at passes."""
    state, due = col(ClockRow.state), col(ClockRow.due_at)
    if clock_state == "breached":
        return or_(state == "breached", and_(state == "running", due < now))
    if clock_state == "at_risk":
        return and_(state == "running", col(ClockRow.at_risk_from) <= now, due >= now)
    if clock_state == "running":
        return and_(state == "running", due >= now)
    return state == clock_state


@router.post("/{request_id}/events", response_model=RequestOut, responses=PROBLEM_RESPONSES)
async def send_event(
    request_id: Identifier,
    body: EventCreate,
    principal: PrincipalDep,
    state: StateDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    """Record an event through the workflow Update: 200 with the new view, or 409/422 saying why."""
    row = load_visible(session, principal, request_id)  # 404 before 403: do not reveal what you cannot see
    require(principal, Role.COORDINATOR, Role.ADMIN)
    if row.status != "open":
        raise Problem(
            409, "Conflict", f"request {request_id} is {row.status}; no more events", rule="event.request_closed"
        )
    client = await state.client()
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
    command = RecordEventInput(
        type=body.type,
        occurred_at=body.occurred_at,
        sender=principal.sender,
        data=body.data,
        idempotency_key=idempotency_key,
    )
    try:
        await handle.execute_update(
            ServiceRequestWorkflow.record_event,
            command,
            id=f"event-{idempotency_key or uuid.uuid4().hex}",
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateFailedError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else None
            raise from_application_error(cause.type, cause.message, details) from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise unavailable(
            "no worker answered in time; retry with the same Idempotency-Key (it is applied once)"
        ) from None
    except RPCError as error:
        if is_unreachable(error):
            raise unavailable() from None
        if error.status is RPCStatusCode.NOT_FOUND:
            raise Problem(409, "Conflict", f"request {request_id} is closed", rule="event.request_closed") from None
        raise
    session.expire_all()
    return request_view(session, load_visible(session, principal, request_id), state.calendars.current(), state.now())
