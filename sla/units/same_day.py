"""当日: by 24:00 of the start's own local date. Clocks only, amount 1."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.timeutil import DAY, end_of_day, local_date
from sla.calendar.working import Deadline
from sla.units.base import ClockMeasure, DurationUnit, wall_time


class SameDay(ClockMeasure):
    """The rest of the start's day: the budget depends on the start, no calendar data is involved (so
    never provisional), and a warning is a share of what was left of the day."""

    unit = DurationUnit.SAME_DAY
    warn_after_refusal = "a same-day clock warns at fractions (warn_at), not warn_after"

    @classmethod
    def describe(cls, amount: int) -> str:
        return "same day (by 24:00)"

    @classmethod
    def amount_refusal(cls, amount: int) -> str | None:
        if amount != 1:
            return f"same_day is 1 (by 24:00 of the start's own date), got {amount!r}"
        return None

    def due(self, start: datetime) -> Deadline:
        return Deadline(end_of_day(local_date(start)), False, self.calendar.fingerprint)

    @classmethod
    def length(cls, amount: int) -> timedelta:
        return DAY * amount

    def budget_from(self, start: datetime) -> timedelta:
        return end_of_day(local_date(start)) - start

    def origin(self, start: datetime) -> datetime:
        return start

    def between(self, start: datetime, end: datetime) -> timedelta:
        return wall_time(start, end)

    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        return start + amount, False  # 24:00 of the start's own date: no calendar data involved

    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        return self._working_days_spanned(start, end)

    def describe_used(self, used: timedelta) -> str:
        return self._elapsed_text(used)
