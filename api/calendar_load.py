"""Loading a year's State Council notice (the write side of PUT /v1/calendar/{year}).

A dry run runs, on each affected open request, exactly the planning its workflow's recompute runs
when the year is loaded (its own state through `plan_change`, sla/engine/plan.py), so what it predicts
is what the load does. A real load stores the year (a new calendar generation), then signals the requests it can
move, in bounded batches, and once more those opened while it was being stored.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from sqlalchemy import Engine, bindparam, or_, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.problems import is_unreachable, unavailable
from api.readings import ticking
from api.schemas import CalendarLoadOut, ClockMove, OverlayIn
from api.state import AppState
from sla.calendar.overlay import parse_overlay
from sla.calendar.timeutil import start_of_day
from sla.calendar.working import WorkingCalendar
from sla.engine.plan import plan_change
from sla.events import RequestStatus
from store.calendar import store_overlay
from store.keys import Principal
from store.models import ClockRow, RequestRow, table_of
from store.types import AwareDateTime
from workflows.ids import request_workflow_id
from workflows.messages import CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

SIGNAL_BATCH = 50
CLOCKS, REQUESTS = table_of(ClockRow), table_of(RequestRow)


def _candidates(engine: Engine, year: int) -> list[tuple[str, str]]:
    """(request id, calendar fingerprint) of the open requests with a ticking clock whose counting
    can reach `year`: the only clocks a year's data can move (a deadline whose days all lie in other
    years does not depend on it)."""
    year_start, next_year = start_of_day(date(year, 1, 1)), start_of_day(date(year + 1, 1, 1))
    c, r = CLOCKS.c, REQUESTS.c
    query = (
        select(c.request_id, r.calendar_fingerprint)
        .join(REQUESTS, r.id == c.request_id)
        .where(r.status == RequestStatus.OPEN)
        .where(ticking())
        .where(or_(c.started_at.is_(None), c.started_at < bindparam("next_year", next_year, type_=AwareDateTime())))
        .where(or_(c.due_at.is_(None), c.due_at > bindparam("year_start", year_start, type_=AwareDateTime())))
        .distinct()
    )
    with engine.connect() as connection:
        return sorted({(row.request_id, row.calendar_fingerprint) for row in connection.execute(query)})


async def _moves(
    client: Client, request_ids: list[str], calendar: WorkingCalendar, now: datetime, reason: str
) -> list[ClockMove]:
    """Which clocks the calendar would move: each workflow's own state (query `get_state`) through
    `plan_change`, the very code its recompute runs when the year is loaded."""

    async def one(request_id: str) -> list[ClockMove]:
        handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
        try:
            current = await handle.query(ServiceRequestWorkflow.get_state)
        except RPCError as error:
            if is_unreachable(error):
                raise unavailable("Temporal is unreachable; a dry run asks each open request") from None
            if error.status is RPCStatusCode.NOT_FOUND:
                return []  # retention removed it; a closed request has nothing left to move
            raise
        planned = await asyncio.to_thread(
            plan_change,
            calendar,
            catalog_document=current.catalog_document,
            events=current.view.events,
            clocks=current.view.clocks,
            now=now,
            reason=reason,
        )
        return [
            ClockMove(
                request_id=request_id,
                clock_id=r.clock_id,
                old_due_at=r.old_due_at,
                new_due_at=r.new_due_at,
                moved_by_seconds=r.moved_by_seconds,
                old_provisional=r.old_provisional,
                new_provisional=r.new_provisional,
            )
            for r in planned.recomputes
        ]

    moves: list[ClockMove] = []
    for first in range(0, len(request_ids), SIGNAL_BATCH):  # bounded fan-out
        batch = request_ids[first : first + SIGNAL_BATCH]
        for found in await asyncio.gather(*(one(i) for i in batch)):
            moves += found
    return moves


async def load_year(
    state: AppState, principal: Principal, year: int, body: OverlayIn, dry_run: bool
) -> CalendarLoadOut:
    overlay = parse_overlay({"year": year, **body.model_dump()}, f"PUT /v1/calendar/{year}")
    calendar = await asyncio.to_thread(state.calendars.with_overlay, overlay)
    reason = f"calendar {year} loaded by {principal.sender}: {overlay.source.describe()}"
    candidates = await asyncio.to_thread(_candidates, state.engine, year)
    client = await state.client()
    candidate_ids = [rid for rid, _ in candidates]
    moves = await _moves(client, candidate_ids, calendar, state.now(), reason)
    if dry_run:
        return CalendarLoadOut(
            year=year, dry_run=True, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=0
        )
    try:
        await client.service_client.check_health()
    except RPCError:
        raise unavailable("Temporal is unreachable; the overlay was not stored") from None
    generation = await asyncio.to_thread(store_overlay, state.engine, overlay, principal.sender, state.now())
    state.calendars.current(generation)
    change = CalendarChanged(reason, generation)

    async def signal(request_id: str) -> bool:
        try:
            handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
            await handle.signal(ServiceRequestWorkflow.calendar_changed, change)
            return True
        except RPCError:
            return False

    async def fan_out(request_ids: list[str]) -> int:
        sent = 0
        for first in range(0, len(request_ids), SIGNAL_BATCH):  # bounded fan-out
            sent += sum(await asyncio.gather(*(signal(i) for i in request_ids[first : first + SIGNAL_BATCH])))
        return sent

    signalled = await fan_out(candidate_ids)
    already = set(candidate_ids)
    # A request opened while the year was being stored may have planned with the calendar before it and
    # not be in the first list: one more pass for those still on another calendar.
    late = [
        rid
        for rid, fingerprint in await asyncio.to_thread(_candidates, state.engine, year)
        if fingerprint != calendar.fingerprint and rid not in already
    ]
    signalled += await fan_out(late)
    return CalendarLoadOut(
        year=year, dry_run=False, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=signalled
    )
