"""Calendar: due instants, a year's data, and loading a year (dry run first)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api import calendar_load
from api.access import Action, require
from api.deps import PrincipalDep, StateDep
from api.instants import BusinessInstant
from api.problems import PROBLEM_RESPONSES, Problem
from api.schemas import CalendarLoadOut, CalendarYearOut, DueOut, OverlayIn
from sla.catalog.model import Duration, DurationUnit
from sla.units import measure_of

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])
Year = Annotated[int, Path(ge=2004, le=2200)]


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
    duration = _one_duration(working_days=working_days, calendar_days=calendar_days, hours=hours)
    deadline = measure_of(duration, state.calendars.current()).due(start)
    return DueOut(
        start=start,
        due_at=deadline.due_at,
        provisional=deadline.provisional,
        calendar_fingerprint=deadline.calendar_fingerprint,
    )


def _one_duration(**amounts: int | None) -> Duration:
    given = [Duration(DurationUnit(unit), amount) for unit, amount in amounts.items() if amount]
    if len(given) != 1:
        raise Problem(
            422,
            "Unprocessable Content",
            "give exactly one of working_days, calendar_days, hours",
            rule="calendar.one_duration",
        )
    return given[0]


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
    require(principal, Action.LOAD_CALENDAR)
    return await calendar_load.load_year(state, principal, year, body, dry_run)
