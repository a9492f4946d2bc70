"""Calendar: due instants, a year's data, and loading a year (dry run first)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlmodel import Session, select
from temporalio.service import RPCError

from api.deps import PrincipalDep, SessionDep, StateDep, require
from api.problems import Problem, unavailable
from api.routes.requests import PROBLEM_RESPONSES
from api.schemas import CalendarLoadOut, CalendarYearOut, ClockMove, DueOut
from api.views import pinned_entry
from sla.calendar.overlay import dump_overlay, parse_overlay
from sla.calendar.working import WorkingCalendar
from sla.engine.changes import due_changes
from sla.engine.clocks import compute_clocks
from sla.engine.model import RecordedEvent
from sla.events import EventType
from store.keys import Role
from store.models import CalendarOverlayRow, ClockRow, EventRow, RequestRow
from workflows.ids import request_workflow_id
from workflows.messages import CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
Year = Annotated[int, Path(ge=2004, le=2200)]


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


def _moves(session: Session, calendar: WorkingCalendar, now: datetime) -> list[ClockMove]:
    """Which open clocks a calendar would move, recomputed with the engine from the stored log."""
    moves = []
    for request in session.exec(select(RequestRow).where(RequestRow.status == "open")).all():
        entry = pinned_entry(request)
        if entry is None:
            continue
        stored = {c.clock_id: c for c in session.exec(select(ClockRow).where(ClockRow.request_id == request.id)).all()}
        if not any(c.state in ("running", "paused") for c in stored.values()):
            continue
        events = [
            RecordedEvent(EventType(e.type), e.occurred_at, e.seq, e.sender, e.data)
            for e in session.exec(select(EventRow).where(EventRow.request_id == request.id)).all()
        ]
        ticking = {c.clock_id: (c.due_at, c.provisional) for c in stored.values() if c.state in ("running", "paused")}
        after = [(v.clock_id, v.due_at, v.provisional) for v in compute_clocks(entry, events, calendar, now)]
        moves += [
            ClockMove(
                request_id=request.id,
                clock_id=m.clock_id,
                old_due_at=m.old_due_at,
                new_due_at=m.new_due_at,
                moved_by_seconds=m.moved_by_seconds,
                old_provisional=m.old_provisional,
                new_provisional=m.new_provisional,
            )
            for m in due_changes(ticking, after)
        ]
    return moves


@router.put("/{year}", response_model=CalendarLoadOut, responses=PROBLEM_RESPONSES)
async def load_year(
    year: Year,
    body: OverlayIn,
    principal: PrincipalDep,
    state: StateDep,
    session: SessionDep,
    dry_run: bool = False,
) -> CalendarLoadOut:
    """Load a year's State Council notice. `dry_run=true` answers which open clocks would move, and by
    how much, without changing anything; otherwise the overlay is stored and open requests recompute."""
    require(principal, Role.ADMIN)
    overlay = parse_overlay({"year": year, **body.model_dump()}, f"PUT /v1/calendar/{year}")
    calendar = state.calendars.with_overlay(overlay)
    moves = _moves(session, calendar, datetime.now(UTC))
    if dry_run:
        return CalendarLoadOut(
            year=year, dry_run=True, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=0
        )
    client = await state.client()
    try:
        await client.service_client.check_health()
    except RPCError:
        raise unavailable("Temporal is unreachable; the overlay was not stored") from None
    session.merge(
        CalendarOverlayRow(
            year=year, document=dump_overlay(overlay), loaded_by=principal.sender, loaded_at=datetime.now(UTC)
        )
    )
    session.commit()
    reason = f"calendar {year} loaded by {principal.sender}: {overlay.source.describe()}"
    open_ids = session.exec(select(RequestRow.id).where(RequestRow.status == "open")).all()

    async def signal(request_id: str) -> bool:
        try:
            handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
            await handle.signal(ServiceRequestWorkflow.calendar_changed, CalendarChanged(reason))
            return True
        except RPCError:
            return False

    signalled = 0
    for start in range(0, len(open_ids), 50):  # bounded fan-out
        signalled += sum(await asyncio.gather(*(signal(i) for i in open_ids[start : start + 50])))
    return CalendarLoadOut(
        year=year, dry_run=False, calendar_fingerprint=calendar.fingerprint, moves=moves, requests_signalled=signalled
    )
