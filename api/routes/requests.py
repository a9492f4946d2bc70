"""Requests: open, read, list, send events. Routes translate HTTP; api.reads and api.commands work."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api import commands
from api.access import Action, require
from api.deps import IdempotencyKey, PrincipalDep, StateDep
from api.instants import BusinessInstant
from api.problems import PROBLEM_RESPONSES
from api.reads import ListFilter, request_page, request_view
from api.schemas import (
    CorrectionDecision,
    EventCreate,
    Identifier,
    RequestCreate,
    RequestOut,
    RequestPage,
    ServiceId,
)
from sla.engine.reading import Phase
from sla.events import RequestStatus

router = APIRouter(prefix="/v1/requests", tags=["requests"])
ClockStateFilter = Phase  # a clock's state at the instant of the query (sla.engine.reading), at_risk included


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
    body: RequestCreate, principal: PrincipalDep, state: StateDep, response: Response
) -> RequestOut:
    """Open a request. With `external_ref`, opening twice returns the first request (200)."""
    require(principal, Action.OPEN_REQUEST)
    answer = await commands.open_service_request(state, principal, body)
    response.headers["Location"] = f"/v1/requests/{answer.view.id}"
    if not answer.created:
        response.status_code = 200
    return answer.view


@router.get("/{request_id}", response_model=RequestOut, responses=PROBLEM_RESPONSES)
def get_request(request_id: Identifier, principal: PrincipalDep, state: StateDep) -> RequestOut:
    """The request view: state, events, clocks (breached as soon as due_at passes)."""
    with state.engine.connect() as connection:
        view: RequestOut = request_view(connection, principal, request_id, state.calendars.current(), state.now())
    return view


@router.get("", response_model=RequestPage, responses=PROBLEM_RESPONSES)
def list_requests(
    principal: PrincipalDep,
    state: StateDep,
    vendor: Identifier | None = None,
    service: ServiceId | None = None,
    insurer: Identifier | None = None,
    status: Annotated[RequestStatus | None, Query(alias="state")] = None,
    clock_state: ClockStateFilter | None = None,
    opened_from: BusinessInstant | None = None,
    opened_to: BusinessInstant | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> RequestPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    wanted = ListFilter(vendor, service, insurer, status, clock_state, opened_from, opened_to, cursor, limit)
    with state.engine.connect() as connection:
        return request_page(connection, principal, wanted, state.now())


@router.post("/{request_id}/events", response_model=RequestOut, responses=PROBLEM_RESPONSES)
async def send_event(
    request_id: Identifier,
    body: EventCreate,
    principal: PrincipalDep,
    state: StateDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    """Record an event through the workflow Update: 200 with the new view, or 409/422 saying why."""
    answer = await commands.send_event(state, principal, request_id, body, idempotency_key)
    if answer.idempotency_key:
        response.headers["Idempotency-Key"] = answer.idempotency_key
    return answer.view


@router.post(
    "/{request_id}/corrections/{correction_id}/{decision}", response_model=RequestOut, responses=PROBLEM_RESPONSES
)
async def decide_correction(
    request_id: Identifier,
    correction_id: Identifier,
    decision: Literal["accept", "reject"],
    principal: PrincipalDep,
    state: StateDep,
    body: CorrectionDecision | None = None,
) -> RequestOut:
    """The insurer's auditor or an admin accepts a held correction (it counts from now on, in metrics,
    reports and webhooks) or rejects it (the recorded outcome stands); 403 for anyone else."""
    return await commands.decide_correction(
        state, principal, request_id, correction_id, decision == "accept", body or CorrectionDecision()
    )
