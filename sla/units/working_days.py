"""工作日: statutory working days, counted in working time (24 h per working day) from the next day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.timeutil import DAY, local_date
from sla.calendar.working import Deadline
from sla.units.base import DayCountedMeasure, DurationUnit, at_cutoff, working_days_text


class WorkingDays(DayCountedMeasure):
    """N working days: 24:00 of the N-th working day after the start's date. A pause keeps the working
    time used exactly, so the remainder is working time added from the resume."""

    unit = DurationUnit.WORKING_DAYS

    def due(self, start: datetime) -> Deadline:
        return self.calendar.due_working_days(start, self.amount)

    def latest_before(self, reference: datetime, cutoff: str | None) -> datetime:
        return at_cutoff(self.calendar.add_working_days(local_date(reference), -self.amount), cutoff)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        return self.calendar.working_time_between(start, end).length

    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        # A working day ends at 24:00, so a period's end and a warning inside it are found alike.
        return self.calendar.add_working_time(start, amount)

    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        return round(elapsed / DAY, 4)

    def describe_used(self, used: timedelta) -> str:
        return working_days_text(used / DAY)
