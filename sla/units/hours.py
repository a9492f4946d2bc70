"""小时: exactly N hours from the start instant, whatever the day."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.working import Deadline
from sla.units.base import ClockMeasure, DurationUnit, WindowMeasure, wall_time


class Hours(ClockMeasure, WindowMeasure):
    """N hours: t + N hours; counting starts at the start instant itself. A lead time in hours has no
    cut-off (it is an instant, not a day)."""

    unit = DurationUnit.HOURS

    def due(self, start: datetime) -> Deadline:
        return self.calendar.due_hours(start, self.amount)

    def latest_before(self, reference: datetime, cutoff: str | None) -> datetime:
        return reference - timedelta(hours=self.amount)

    @classmethod
    def length(cls, amount: int) -> timedelta:
        return timedelta(hours=amount)

    def budget_from(self, start: datetime) -> timedelta:
        return self.budget

    def origin(self, start: datetime) -> datetime:
        return start

    def between(self, start: datetime, end: datetime) -> timedelta:
        return wall_time(start, end)

    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        # Hours never consult the calendar, so no missing year can move them.
        return start + amount, False

    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        return self._working_days_spanned(start, end)

    def describe_used(self, used: timedelta) -> str:
        return self._elapsed_text(used)
