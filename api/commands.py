"""The API's write side: open a request, send an event. Both go through Temporal and answer with
the view the workflow's own write produced. Database work runs on the thread pool; no pooled
connection is held while Temporal is awaited.

Exactly once over HTTP: every call carries a Temporal Update ID made from the Idempotency-Key (one
is generated when the caller sent none, and returned in the `Idempotency-Key` response header) and
a digest of the body. A retried call with the same key and body is deduplicated by Temporal; the
same key with another body reaches the workflow, which refuses it (`event.idempotency_key_reused`).
When Temporal does not answer in time the outcome is looked up once more; a 503 that remains says
the event may have been recorded and which key repeats it safely.

"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from api.access import Action, may, opens_for
from api.problems import Problem, unavailable
from api.quota_claims import claim_quota, give_back, keep_claim, policy_year_start
from api.reads import answer_view, load_request, request_view
from api.schemas import CorrectionDecision, EventCreate, RequestCreate, RequestOut
from api.state import AppState
from api.temporal_problems import UPDATE_TIMEOUT, execute_update, rpc_problem, rule_problem
from clients.opening import request_input
from sla.calendar.timeutil import SHANGHAI
from sla.catalog.model import ServiceEntry
from sla.engine.backfill import PastEvent, check_backfill
from sla.engine.review import check_not_before_opening
from sla.engine.rules import CLOCK_SKEW_TOLERANCE
from sla.errors import SlaError
from sla.event_data import check_event_data
from sla.events import RequestStatus
from store.db import write_transaction
from store.keys import Principal
from store.models import RefusedEventRow, RequestRow, VendorRow, table_of
from workflows.ids import request_workflow_id
from workflows.messages import (
    DecideCorrection,
    Insured,
    RecordEventInput,
    RecordEventResult,
    RequestView,
    ServiceRequestInput,
)
from workflows.service_request import ServiceRequestWorkflow

log = logging.getLogger("slatrack.api")
OUTCOME_LOOKUP_TIMEOUT = timedelta(seconds=5)
EXTERNAL_REF_NAMESPACE = uuid.UUID("6b1f3a52-8d4e-4c9b-9d57-1f1d8c3e2a10")
REQUESTS, VENDORS, REFUSED = table_of(RequestRow), table_of(VendorRow), table_of(RefusedEventRow)


@dataclass(frozen=True)
class Answer:
    view: RequestOut
    created: bool  # False: an existing request (external_ref) or a 202-style pending open
    idempotency_key: str | None = None


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]


def _record_refusal(state: AppState, request_id: str, command: RecordEventInput, problem: Problem) -> None:
    """Keep a refused event for the audit page: it changed nothing, but someone tried it. Best effort:
    the caller's answer is the refusal, whether or not this row could be written."""
    row = {
        "request_id": request_id,
        "id": uuid.uuid4().hex,
        "type": str(command.type),
        "occurred_at": command.occurred_at,
        "received_at": state.now(),
        "sender": command.sender,
        "idempotency_key": command.idempotency_key,
        "rule": problem.rule or "event.refused",
        "source": problem.source,
        "detail": problem.detail[:2000],
    }
    try:
        with write_transaction(state.engine) as connection:
            connection.execute(REFUSED.insert().values(**row))
    except (OperationalError, SQLAlchemyTimeout):
        log.warning("refused event on %s not kept for the audit page: the read model is busy", request_id)


def _view(state: AppState, principal: Principal, request_id: str) -> RequestOut:
    with state.engine.connect() as connection:
        result: RequestOut = request_view(connection, principal, request_id, state.calendars.current(), state.now())
        return result


def _pinned_entry(state: AppState, view: RequestView) -> ServiceEntry | None:
    """The request's pinned entry when it is the one this API's catalog holds (None: another version)."""
    try:
        if state.catalog.pin(view.service_id).digest != view.catalog_digest:
            return None
        return state.catalog.get(view.service_id)
    except SlaError:  # a service this catalog no longer holds
        return None


def _answer(state: AppState, principal: Principal, request_id: str, result: RecordEventResult | None) -> RequestOut:
    """The request as the write left it, from the update's result: no read of the read model, which
    the write has already brought there (GET answers the same). Read from the read model when the
    result holds no view (a long request), or the request is pinned to an entry this API lacks."""
    view = result.view if result is not None else None
    entry = _pinned_entry(state, view) if view is not None else None
    if view is None or entry is None:
        return _view(state, principal, request_id)
    return answer_view(view, entry, state.calendars.current(), state.now())


# -- open --------------------------------------------------------------------------------------------
def _check_open(state: AppState, principal: Principal, body: RequestCreate, now: datetime) -> tuple[str, bool]:
    """Validate what the database decides; returns (request id, already exists)."""
    if not opens_for(principal, body.vendor_id):
        raise Problem(403, "Forbidden", f"this key opens requests for vendor {principal.vendor_id} only")
    state.catalog.get(body.service_id)  # UnknownServiceError -> 422
    opened_at = body.opened_at or now
    if opened_at > now + CLOCK_SKEW_TOLERANCE:
        raise Problem(
            422,
            "Unprocessable Content",
            f"opened_at {opened_at.astimezone(SHANGHAI).isoformat()} is in the future",
            rule="request.opened_in_future",
        )
    if body.quota_override_reason is not None and not may(principal, Action.OVERRIDE_QUOTA):
        raise Problem(
            403,
            "Forbidden",
            "only an admin key may open a request beyond its quota (quota_override_reason)",
            rule="quota.override_admin_only",
        )
    policy_year_start(body, opened_at)  # 422 before anything is written
    request_id = uuid.uuid4().hex if not body.external_ref else None
    if body.events:  # every past event checked in order, as if sent then; the first broken rule answers
        past = [PastEvent(e.type, e.occurred_at.astimezone(SHANGHAI), e.data) for e in body.events]
        if not may(principal, Action.BACKFILL_BEFORE_OPENING):
            for index, event in enumerate(past):
                try:
                    check_not_before_opening(opened_at, event.type, event.occurred_at)
                except SlaError as error:
                    raise type(error)(f"events[{index}] ({event.type}): {error.message}", source=error.source) from None
        check_backfill(state.catalog.get(body.service_id), opened_at, past, state.calendars.current(), now)
    with state.engine.connect() as connection:
        if connection.execute(VENDORS.select().where(VENDORS.c.id == body.vendor_id)).first() is None:
            raise Problem(
                422,
                "Unknown Vendor",
                f"no vendor {body.vendor_id!r}; an admin adds vendors with `slatrack vendors add`",
                rule="vendor.unknown",
            )
        if request_id is None:
            assert body.external_ref is not None
            request_id = _request_id_for(connection, body.vendor_id, body.external_ref)
        exists = connection.execute(REQUESTS.select().where(REQUESTS.c.id == request_id)).first() is not None
    return request_id, exists


def request_id_for(vendor_id: str, external_ref: str) -> str:
    """The request id one (vendor, external_ref) names. Each part is escaped ('%' then ':'), so the pair
    reads back one way only: "a:b" + "c" and "a" + "b:c" were one id before. A pair without ':' or '%'
    (every one the identifiers' pattern allowed but ':') keeps the id it always had."""

    def escaped(part: str) -> str:
        return part.replace("%", "%25").replace(":", "%3A")

    return uuid.uuid5(EXTERNAL_REF_NAMESPACE, f"{escaped(vendor_id)}:{escaped(external_ref)}").hex


def _request_id_for(connection: Connection, vendor_id: str, external_ref: str) -> str:
    """`request_id_for`, or the id an already-open request got from the old, ambiguous derivation
    (when a ':' is in the pair) if that request is this very pair's."""
    request_id = request_id_for(vendor_id, external_ref)
    legacy = uuid.uuid5(EXTERNAL_REF_NAMESPACE, f"{vendor_id}:{external_ref}").hex
    if legacy != request_id:
        r = REQUESTS.c
        found = connection.execute(
            select(r.id).where(r.id == legacy, r.vendor_id == vendor_id, r.external_ref == external_ref)
        ).first()
        if found is not None:
            return legacy
    return request_id


async def open_service_request(state: AppState, principal: Principal, body: RequestCreate) -> Answer:
    now = state.now()
    request_id, exists = await run_in_threadpool(_check_open, state, principal, body, now)
    opened: RecordEventResult | None = None  # the opening's result, when this call sent it
    if not exists:
        claimed = await run_in_threadpool(claim_quota, state, principal, body, request_id, now)
        try:
            opened = await _start_request(state, principal, body, request_id, now)
            exists = opened is None or opened.duplicate
        except Exception as failure:
            # This call started nothing: Temporal unreachable or busy (503). A 202 started the workflow;
            # a cancelled call (BaseException) may have: both keep the use.
            started = isinstance(failure, Problem) and failure.status != 503
            if claimed and not started:
                await give_back(state, principal, body, request_id, now)
            raise
        if not claimed:
            # The use was held by a twin open (same external_ref) that may yet fail and give it back:
            # the workflow runs, so it holds one (a no-op when the twin's use is still there).
            await keep_claim(state, principal, body, request_id, now)
    try:
        view = await run_in_threadpool(_answer, state, principal, request_id, opened)
    except (OperationalError, SQLAlchemyTimeout):
        # Opened: a 503 would have a client without external_ref open a second request.
        raise Problem(
            202,
            "Accepted",
            f"the request was opened, but the read model cannot be read now; GET /v1/requests/{request_id} shortly",
            headers={"Location": f"/v1/requests/{request_id}"},
        ) from None
    return Answer(view, created=not exists)


def _opening_input(
    state: AppState, principal: Principal, body: RequestCreate, request_id: str, now: datetime
) -> ServiceRequestInput:
    """The new workflow's input: the entry pinned now, the insured, and the events sent with the opening."""
    return request_input(
        state.catalog,
        request_id=request_id,
        service_id=body.service_id,
        vendor_id=body.vendor_id,
        policy_no=body.policy_no,
        insured=Insured(name=body.insured.name, id_number=body.insured.id_number),
        opened_at=body.opened_at or now,
        external_ref=body.external_ref,
        backfill=[
            RecordEventInput(e.type, e.occurred_at.astimezone(SHANGHAI), principal.sender, e.data) for e in body.events
        ],
    )


async def _start_request(
    state: AppState, principal: Principal, body: RequestCreate, request_id: str, now: datetime
) -> RecordEventResult | None:
    """Start the workflow with update-with-start: the opening's result (`duplicate`: it existed), None if closed."""
    client = await state.client()
    start = WithStartWorkflowOperation(
        ServiceRequestWorkflow.run,
        _opening_input(state, principal, body, request_id, now),
        id=request_workflow_id(request_id),
        task_queue=state.settings.task_queue,
        # Two concurrent opens with one external_ref meet in one workflow; a closed one is never reopened.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    caller = uuid.uuid4().hex  # one per HTTP call: the workflow tells the caller that opened it
    try:
        opened: RecordEventResult = await client.execute_update_with_start_workflow(
            ServiceRequestWorkflow.wait_opened,
            caller,
            start_workflow_operation=start,
            id=f"open-{request_id}-{caller}",
            rpc_timeout=UPDATE_TIMEOUT,
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise Problem(
            202,
            "Accepted",
            f"the request was opened but no worker has computed its clocks yet; GET /v1/requests/{request_id} shortly",
            headers={"Location": f"/v1/requests/{request_id}"},
        ) from None
    except RPCError as error:
        if error.status is RPCStatusCode.ALREADY_EXISTS:
            return None  # closed already: the read model has it
        mapped = rpc_problem(error, busy_retry="send it again (one external_ref opens one request)")
        if mapped is None:
            raise
        raise mapped from None
    return opened


# -- events ------------------------------------------------------------------------------------------
def _check_event(state: AppState, principal: Principal, request_id: str) -> None:
    with state.engine.connect() as connection:
        row = load_request(connection, principal, request_id)  # 404 before 403: scope is not revealed
    if not may(principal, Action.SEND_EVENT):
        raise Problem(403, "Forbidden", f"a {principal.role.value} key may not send events")
    if row.status != RequestStatus.OPEN:
        raise Problem(
            409, "Conflict", f"request {request_id} is {row.status}; no more events", rule="event.request_closed"
        )


async def _await_outcome(handle: WorkflowHandle[Any, Any], update_id: str, key: str) -> None:
    """The update call timed out: ask once more whether it completed, else say how to retry safely."""
    try:
        await handle.get_update_handle_for(ServiceRequestWorkflow.record_event, update_id).result(
            rpc_timeout=OUTCOME_LOOKUP_TIMEOUT
        )
    except WorkflowUpdateFailedError as failure:
        raise rule_problem(failure) from None
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
        raise unavailable(
            "no worker answered in time; the event may or may not be recorded: "
            f"retry with Idempotency-Key {key} (it is applied once)",
        ).with_headers({"Idempotency-Key": key}) from None


async def send_event(
    state: AppState, principal: Principal, request_id: str, body: EventCreate, idempotency_key: str | None
) -> Answer:
    check_event_data(body.type, body.data)  # a value the domain cannot read must never reach the workflow
    await run_in_threadpool(_check_event, state, principal, request_id)
    key = idempotency_key or f"gen-{uuid.uuid4().hex}"
    occurred_at = body.occurred_at.astimezone(SHANGHAI)  # one spelling of an instant, for the digest too
    command = RecordEventInput(
        type=body.type, occurred_at=occurred_at, sender=principal.sender, data=body.data, idempotency_key=key
    )
    update_id = f"event-{key}-{_digest({'type': body.type, 'occurred_at': occurred_at.isoformat(), 'data': body.data})}"
    client = await state.client()
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
    result: RecordEventResult | None = None
    try:
        result = await execute_update(handle, ServiceRequestWorkflow.record_event, command, update_id)
    except WorkflowUpdateFailedError as failure:
        problem = rule_problem(failure)
        await run_in_threadpool(_record_refusal, state, request_id, command, problem)
        raise problem from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        await _await_outcome(handle, update_id, key)
    except RPCError as error:
        closed = Problem(409, "Conflict", f"request {request_id} is closed", rule="event.request_closed")
        mapped = rpc_problem(
            error, busy_retry=f"retry with Idempotency-Key {key}", closed=closed, headers={"Idempotency-Key": key}
        )
        if mapped is None:
            raise
        raise mapped from None
    try:
        view = await run_in_threadpool(_answer, state, principal, request_id, result)
    except (OperationalError, SQLAlchemyTimeout):
        # The event is recorded: without the key a client that sent none could only repeat it as a new event.
        raise unavailable(
            "the event was recorded, but the read model cannot be read now: "
            f"repeat with Idempotency-Key {key} for the view (it is applied once)"
        ).with_headers({"Idempotency-Key": key}) from None
    return Answer(view, created=False, idempotency_key=key)


# -- an insurer's decision on a held event ---------------------------------------------------------
def _check_decision(state: AppState, principal: Principal, request_id: str) -> None:
    with state.engine.connect() as connection:
        load_request(connection, principal, request_id)  # 404 before 403: scope is not revealed
    if not may(principal, Action.DECIDE_CORRECTION):
        raise Problem(
            403,
            "Forbidden",
            "only the insurer's auditor or an admin accepts or rejects a held correction; nobody grades themselves",
            rule="correction.insurer_decides",
        )


async def decide_correction(
    state: AppState,
    principal: Principal,
    request_id: str,
    correction_id: str,
    accept: bool,
    body: CorrectionDecision,
) -> RequestOut:
    """Accept (the held event counts from now on) or reject (it never counts) a held correction; the
    decision stays on the request with who took it and when. Sent once per decision: a repeat of the
    same call is the same Temporal Update, a different decision is refused (decided once)."""
    await run_in_threadpool(_check_decision, state, principal, request_id)
    decision = DecideCorrection(correction_id, accept, principal.sender, body.note)
    update_id = f"decide-{correction_id}-{'accept' if accept else 'reject'}"
    client = await state.client()
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
    try:
        result = await execute_update(handle, ServiceRequestWorkflow.decide_correction, decision, update_id)
    except WorkflowUpdateFailedError as failure:
        raise rule_problem(failure) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise unavailable("no worker answered in time; repeat the call (a decision is applied once)") from None
    except RPCError as error:
        closed = Problem(409, "Conflict", f"request {request_id} is closed", rule="correction.request_closed")
        mapped = rpc_problem(error, busy_retry="repeat the call (a decision is applied once)", closed=closed)
        if mapped is None:
            raise
        raise mapped from None
    return await run_in_threadpool(_answer, state, principal, request_id, result)
