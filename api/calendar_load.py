"""Loading a year's State Council notice (the write side of PUT /v1/calendar/{year}).

A dry run runs, on each affected open request, exactly the planning its workflow's recompute runs
when the year is loaded (its own state through `plan_change`, sla/engine/plan.py), so what it predicts
is what the load does. A real load stores the year (a new calendar generation), then signals the requests it can
move, in bounded batches, and once more those opened while it was being stored.

A notice also sets days in the previous December when a holiday runs into the new year or a make-up
Saturday comes before it (the 2019 notice: 2018-12-31 off, 2018-12-29 worked). The body lists them
with the year's own days, as the notice gives them; the load then stores the previous year too (its
current data with those days, its source naming both notices) and recomputes the open clocks that
reach either year, in the same pass.
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
from sla.calendar.notice import carried_into_previous_year, split_previous_december
from sla.calendar.overlay import YearData, parse_overlay
from sla.calendar.timeutil import start_of_day
from sla.calendar.working import WorkingCalendar
from sla.engine.plan import plan_change
from sla.errors import CalendarDataError
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


def _previous_december(
    state: AppState, overlay: YearData, holidays: frozenset[date], makeups: frozenset[date]
) -> YearData | None:
    """The previous year as the notice leaves it, or None when it sets no day there or the year has them."""
    if not holidays and not makeups:
        return None
    previous_year = overlay.year - 1
    # The newest stored data (another replica may have loaded the year a moment ago), not the cached one.
    previous = state.calendars.current(state.calendars.stored_generation()).years.get(previous_year)
    days = ", ".join(map(str, sorted(holidays | makeups)))
    if previous is None:
        raise CalendarDataError(
            f"the notice for {overlay.year} sets {days} in {previous_year}, which has no data loaded: "
            f"load {previous_year} from its own notice first, then {overlay.year}",
            rule="calendar.previous_year_missing",
            source="calendars/README.md",
        )
    origin = f"PUT /v1/calendar/{overlay.year}: {days} set by {overlay.source.describe()}"
    return carried_into_previous_year(previous, holidays, makeups, overlay.source, origin)


async def _signal_all(client: Client, request_ids: list[str], change: CalendarChanged) -> int:
    """Signals each request's workflow that the calendar changed, in bounded batches; how many took it."""

    async def signal(request_id: str) -> bool:
        try:
            handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
            await handle.signal(ServiceRequestWorkflow.calendar_changed, change)
            return True
        except RPCError:
            return False

    sent = 0
    for first in range(0, len(request_ids), SIGNAL_BATCH):  # bounded fan-out
        sent += sum(await asyncio.gather(*(signal(i) for i in request_ids[first : first + SIGNAL_BATCH])))
    return sent


async def _store_years(state: AppState, client: Client, loaded: list[YearData], sender: str) -> int:
    """Stores the years (only while Temporal can be told); the generation that holds them all."""
    try:
        await client.service_client.check_health()
    except RPCError:
        raise unavailable("Temporal is unreachable; the overlay was not stored") from None
    for one in loaded:  # the previous year first: the last generation holds both
        generation = await asyncio.to_thread(store_overlay, state.engine, one, sender, state.now())
    return generation


async def _open_in_years(state: AppState, years: list[int]) -> list[tuple[str, str]]:
    """The open requests with a clock reaching any of the years: (id, calendar fingerprint), sorted."""
    return sorted({c for y in years for c in await asyncio.to_thread(_candidates, state.engine, y)})


async def load_year(
    state: AppState, principal: Principal, year: int, body: OverlayIn, dry_run: bool
) -> CalendarLoadOut:
    document, december_holidays, december_makeups = split_previous_december({"year": year, **body.model_dump()})
    overlay = parse_overlay(document, f"PUT /v1/calendar/{year}")
    previous = await asyncio.to_thread(_previous_december, state, overlay, december_holidays, december_makeups)
    loaded = [previous, overlay] if previous else [overlay]
    calendar = await asyncio.to_thread(state.calendars.with_overlay, *loaded)
    years = " and ".join(str(o.year) for o in loaded)
    reason = f"calendar {years} loaded by {principal.sender}: {overlay.source.describe()}"
    # The previous year's clocks are asked even when it already has the days: a load retried after a
    # failure part way (stored, not all signalled) must still reach them; a recompute that moves
    # nothing is harmless.
    reached = [year - 1, year] if december_holidays or december_makeups else [year]
    client = await state.client()
    candidate_ids = [rid for rid, _ in await _open_in_years(state, reached)]
    moves = await _moves(client, candidate_ids, calendar, state.now(), reason)
    if dry_run:
        return CalendarLoadOut(
            year=year, dry_run=True, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=0
        )
    generation = await _store_years(state, client, loaded, principal.sender)
    state.calendars.current(generation)
    change = CalendarChanged(reason, generation)
    signalled = await _signal_all(client, candidate_ids, change)
    # A request opened while the year was being stored may have planned with the calendar before it and
    # not be in the first list: one more pass for those still on another calendar.
    already = set(candidate_ids)
    late = [
        rid
        for rid, fingerprint in await _open_in_years(state, reached)
        if fingerprint != calendar.fingerprint and rid not in already
    ]
    signalled += await _signal_all(client, late, change)
    return CalendarLoadOut(
        year=year, dry_run=False, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=signalled
    )
