"""天: calendar days from the next day; a period ending on a rest day runs to the next working day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.timeutil import DAY, local_date, start_of_day
from sla.calendar.working import Deadline
from sla.units.base import DayCountedMeasure, DurationUnit, at_cutoff, wall_time


class CalendarDays(DayCountedMeasure):
    """N calendar days: 24:00 of the N-th day after the start's date, or of the next working day when
    that day is a rest day (Civil Code art. 203). Elapsed time is wall-clock time."""

    unit = DurationUnit.CALENDAR_DAYS

    def due(self, start: datetime) -> Deadline:
        return self.calendar.due_calendar_days(start, self.amount)

    def latest_before(self, reference: datetime, cutoff: str | None) -> datetime:
        return at_cutoff(local_date(reference) - timedelta(days=self.amount), cutoff)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return wall_time(start, end)

    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        at = start + amount
        if period_end and at == start_of_day(local_date(at)):
            return self.calendar.period_end(local_date(at) - DAY)  # art. 203
        # No rest day is consulted for an instant inside the period, so no missing year can move it.
        return at, False

    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        return self._working_days_spanned(start, end)

    def describe_used(self, used: timedelta) -> str:
        return self._elapsed_text(used)
