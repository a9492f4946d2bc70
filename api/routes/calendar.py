"""Calendar: due instants, a year's data, and loading a year (dry run first)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.advance import plan_change
from api.deps import PrincipalDep, StateDep, require
from api.problems import Problem, is_unreachable, unavailable
from api.routes.requests import PROBLEM_RESPONSES
from api.schemas import CalendarLoadOut, CalendarYearOut, ClockMove, DueOut
from sla.calendar.overlay import dump_overlay, parse_overlay
from sla.calendar.timeutil import start_of_day
from sla.calendar.working import WorkingCalendar
from store.keys import Role
from store.models import CalendarOverlayRow, ClockRow, RequestRow
from workflows.ids import request_workflow_id
from workflows.messages import AdvanceInput, CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
Year = Annotated[int, Path(ge=2004, le=2200)]
SIGNAL_BATCH = 50


@router.get("/due", response_model=DueOut, responses=PROBLEM_RESPONSES)
def due(
    principal: PrincipalDep,
    state: StateDep,
    start: AwareDatetime,
    working_days: Annotated[int | None, Query(ge=1, le=1000)] = None,
    calendar_days: Annotated[int | None, Query(ge=1, le=1000)] = None,
    hours: Annotated[int | None, Query(ge=1, le=24000)] = None,
) -> DueOut:
    """The due instant of a period: exactly one of working_days, calendar_days, hours."""
    given = [
        (k, v) for k, v in (("working_days", working_days), ("calendar_days", calendar_days), ("hours", hours)) if v
    ]
    if len(given) != 1:
        raise Problem(
            422,
            "Unprocessable Content",
            "give exactly one of working_days, calendar_days, hours",
            rule="calendar.one_duration",
        )
    calendar = state.calendars.current()
    unit, amount = given[0]
    if unit == "working_days":
        deadline = calendar.due_working_days(start, amount)
    elif unit == "calendar_days":
        deadline = calendar.due_calendar_days(start, amount)
    else:
        deadline = calendar.due_hours(start, amount)
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


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    number: str
    date: str


class OverlayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: NoticeIn
    holidays: list[str] = []
    makeup_workdays: list[str] = []


def _candidates(engine: Engine, year: int) -> list[str]:
    """Open requests with a ticking clock whose counting can reach `year`: the only clocks a year's
    data can move (a deadline whose days all lie in other years does not depend on it)."""
    year_start, next_year = start_of_day(date(year, 1, 1)), start_of_day(date(year + 1, 1, 1))
    with Session(engine) as session:
        rows = session.exec(
            select(ClockRow.request_id)
            .join(RequestRow, col(RequestRow.id) == col(ClockRow.request_id))
            .where(col(RequestRow.status) == "open")
            .where(col(ClockRow.state).in_(("running", "paused")))
            .where(or_(col(ClockRow.started_at).is_(None), col(ClockRow.started_at) < next_year))
            .where(or_(col(ClockRow.due_at).is_(None), col(ClockRow.due_at) > year_start))
            .distinct()
        ).all()
    return sorted(set(rows))


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
    if dry_run:
        moves = await _moves(client, candidates, calendar, state.now(), reason)
        return CalendarLoadOut(
            year=year, dry_run=True, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=0
        )
    try:
        await client.service_client.check_health()
    except RPCError:
        raise unavailable("Temporal is unreachable; the overlay was not stored") from None
    moves = await _moves(client, candidates, calendar, state.now(), reason)

    def store() -> None:
        with Session(state.engine) as session:
            session.merge(
                CalendarOverlayRow(
                    year=year, document=dump_overlay(overlay), loaded_by=principal.sender, loaded_at=state.now()
                )
            )
            session.commit()

    await asyncio.to_thread(store)

    async def signal(request_id: str) -> bool:
        try:
            handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
            await handle.signal(ServiceRequestWorkflow.calendar_changed, CalendarChanged(reason))
            return True
        except RPCError:
            return False

    signalled = 0
    for first in range(0, len(candidates), SIGNAL_BATCH):  # bounded fan-out
        signalled += sum(await asyncio.gather(*(signal(i) for i in candidates[first : first + SIGNAL_BATCH])))
    return CalendarLoadOut(
        year=year, dry_run=False, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=signalled
    )
