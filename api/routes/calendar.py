"""Calendar: due instants, a year's data, and loading a year (dry run first)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Engine, bindparam, or_, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.advance import plan_change
from api.deps import PrincipalDep, StateDep, require
from api.instants import BusinessInstant
from api.problems import PROBLEM_RESPONSES, Problem, is_unreachable, unavailable
from api.schemas import CalendarLoadOut, CalendarYearOut, ClockMove, DueOut
from sla.calendar.overlay import parse_overlay
from sla.calendar.timeutil import start_of_day
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import Duration, DurationUnit
from sla.engine.reading import Phase
from sla.units import measure_of
from store.calendar import store_overlay
from store.keys import Role
from store.models import ClockRow, RequestRow, table_of
from store.types import AwareDateTime
from workflows.ids import request_workflow_id
from workflows.messages import AdvanceInput, CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
Year = Annotated[int, Path(ge=2004, le=2200)]
SIGNAL_BATCH = 50
CLOCKS, REQUESTS = table_of(ClockRow), table_of(RequestRow)


@router.get("/due", response_model=DueOut, responses=PROBLEM_RESPONSES)
def due(
    principal: PrincipalDep,
    state: StateDep,
    start: BusinessInstant,
    working_days: Annotated[int | None, Query(ge=1, le=1000)] = None,
    calendar_days: Annotated[int | None, Query(ge=1, le=1000)] = None,
    hours: Annotated[int | None, Query(ge=1, le=24000)] = None,
) -> DueOut:
    """The due instant of a period: exactly one of working_days, calendar_days, hours."""
    given = [
        Duration(unit, amount)
        for unit, amount in (
            (DurationUnit.WORKING_DAYS, working_days),
            (DurationUnit.CALENDAR_DAYS, calendar_days),
            (DurationUnit.HOURS, hours),
        )
        if amount
    ]
    if len(given) != 1:
        raise Problem(
            422,
            "Unprocessable Content",
            "give exactly one of working_days, calendar_days, hours",
            rule="calendar.one_duration",
        )
    deadline = measure_of(given[0], state.calendars.current()).due(start)
    return DueOut(
        start=start,
        due_at=deadline.due_at,
        provisional=deadline.provisional,
        calendar_fingerprint=deadline.calendar_fingerprint,
    )


@router.get("/{year}", response_model=CalendarYearOut, responses=PROBLEM_RESPONSES)
def get_year(year: Year, principal: PrincipalDep, state: StateDep) -> CalendarYearOut:
    calendar = state.calendars.current()
    data = calendar.years.get(year)
    return CalendarYearOut(
        year=year,
        official=data is not None,
        source=data.source.describe() if data else None,
        origin=data.origin if data else None,
        holidays=sorted(d.isoformat() for d in data.holidays) if data else [],
        makeup_workdays=sorted(d.isoformat() for d in data.makeup_workdays) if data else [],
        calendar_fingerprint=calendar.fingerprint,
    )


# Constrained strings: pydantic then checks them as Unicode, so a lone surrogate is a 422 here instead of
# a 500 when the overlay is hashed into the calendar fingerprint.
NoticeText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Day = Annotated[str, StringConstraints(max_length=32)]  # parse_overlay says what a day must be
Days = Annotated[list[Day], Field(max_length=366)]


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: NoticeText
    number: NoticeText
    date: Day


class OverlayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: NoticeIn
    holidays: Days = []
    makeup_workdays: Days = []


def _candidates(engine: Engine, year: int) -> list[tuple[str, str]]:
    """(request id, calendar fingerprint) of the open requests with a ticking clock whose counting
    can reach `year`: the only clocks a year's data can move (a deadline whose days all lie in other
    years does not depend on it)."""
    year_start, next_year = start_of_day(date(year, 1, 1)), start_of_day(date(year + 1, 1, 1))
    c, r = CLOCKS.c, REQUESTS.c
    query = (
        select(c.request_id, r.calendar_fingerprint)
        .join(REQUESTS, r.id == c.request_id)
        .where(r.status == "open")
        .where(c.phase.in_((Phase.RUNNING, Phase.AT_RISK, Phase.PAUSED)))
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
        change = AdvanceInput(current.view, current.catalog_document, current.catalog_version, now, reason=reason)
        planned = await asyncio.to_thread(plan_change, calendar, change)
        return [
            ClockMove(
                request_id=request_id,
                clock_id=r.clock_id,
                old_due_at=r.old_due_at,
                new_due_at=r.new_due_at,
                moved_by_seconds=int((r.new_due_at - r.old_due_at).total_seconds())
                if r.old_due_at and r.new_due_at
                else None,
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


@router.put("/{year}", response_model=CalendarLoadOut, responses=PROBLEM_RESPONSES)
async def load_year(
    year: Year,
    body: OverlayIn,
    principal: PrincipalDep,
    state: StateDep,
    dry_run: bool = False,
) -> CalendarLoadOut:
    """Load a year's State Council notice. `dry_run=true` answers which open clocks would move, and by
    how much, without changing anything; otherwise the overlay is stored and open requests recompute."""
    require(principal, Role.ADMIN)
    overlay = parse_overlay({"year": year, **body.model_dump()}, f"PUT /v1/calendar/{year}")
    calendar = await asyncio.to_thread(state.calendars.with_overlay, overlay)
    reason = f"calendar {year} loaded by {principal.sender}: {overlay.source.describe()}"
    candidates = await asyncio.to_thread(_candidates, state.engine, year)
    client = await state.client()
    moves = await _moves(client, [rid for rid, _ in candidates], calendar, state.now(), reason)
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

    signalled_ids = [rid for rid, _ in candidates]
    signalled = await fan_out(signalled_ids)
    # A request opened while the year was being stored may have planned with the calendar before it and
    # not be in the first list: one more pass for those still on another calendar.
    late = [
        rid
        for rid, fingerprint in await asyncio.to_thread(_candidates, state.engine, year)
        if fingerprint != calendar.fingerprint and rid not in set(signalled_ids)
    ]
    signalled += await fan_out(late)
    return CalendarLoadOut(
        year=year, dry_run=False, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=signalled
    )
