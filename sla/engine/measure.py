"""How each duration unit counts time: the only place the units differ."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

from sla.calendar.timeutil import DAY, end_of_day, iso_duration, local_date, start_of_day
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import Duration, DurationUnit, WarnThreshold

_SECOND = timedelta(seconds=1)


def share_of(budget: timedelta, share: Fraction) -> timedelta:
    """`share` of `budget` in whole seconds (rounded down: a warning is never late), never through a float."""
    seconds = budget // _SECOND
    return timedelta(seconds=seconds * share.numerator // share.denominator)


def _working_days(days: float) -> str:
    days = round(days, 4)
    return f"{days:g} working day" + ("" if days == 1 else "s")


class Measure:
    """Budget, counting origin, elapsed and add for one clock duration."""

    def __init__(self, duration: Duration, calendar: WorkingCalendar) -> None:
        self.duration = duration
        self.calendar = calendar
        self.unit = duration.unit
        if self.unit is DurationUnit.CALENDAR_MONTHS:
            raise ValueError("calendar_months is a window unit, not a clock unit")
        # For same_day clocks the budget depends on the start (the rest of that day); this is the most.
        self.budget = self.length(duration)

    @staticmethod
    def length(duration: Duration) -> timedelta:
        """The budget `duration` stands for, in this family of units (working time for working days)."""
        if duration.unit is DurationUnit.HOURS:
            return timedelta(hours=duration.amount)
        return DAY * duration.amount

    def budget_from(self, start: datetime) -> timedelta:
        """The budget of a cycle whose counting starts at `start`."""
        if self.unit is DurationUnit.SAME_DAY:
            return end_of_day(local_date(start)) - start
        return self.budget

    def mark(self, threshold: WarnThreshold, budget: timedelta) -> timedelta:
        """How much of the budget is used when `threshold` fires: exact, in the clock's own measure."""
        if threshold.after is not None:
            return self.length(threshold.after)
        return share_of(budget, threshold.share)

    def origin(self, start: datetime) -> datetime:
        """Where counting begins. Civil Code art. 201: a period in days skips its first day."""
        if self.unit in (DurationUnit.HOURS, DurationUnit.SAME_DAY):
            return start
        return start_of_day(local_date(start) + DAY)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        if self.unit is DurationUnit.WORKING_DAYS:
            return self.calendar.working_time_between(start, end).length
        return end - start

    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        """The instant `amount` of this unit's time after `start`, and whether it is provisional.

        `period_end=False` for a warning: art. 203 moves the end of a period off a rest day, not a warning
        inside it (3 calendar days into a 5-day delivery is 24:00 of day 3, whatever day that is)."""
        if self.unit is DurationUnit.WORKING_DAYS:
            return self.calendar.add_working_time(start, amount)
        at = start + amount
        if self.unit is DurationUnit.SAME_DAY:
            return at, False  # 24:00 of the start's own date: no calendar data involved
        if period_end and self.unit is DurationUnit.CALENDAR_DAYS and at == start_of_day(local_date(at)):
            # Art. 203: a period whose last day is a rest day ends at 24:00 of the next working day.
            last_day = local_date(at) - DAY
            moved = self.calendar.next_working_day_on_or_after(last_day)
            provisional = self.calendar.is_provisional_range(local_date(start), moved)
            return end_of_day(moved), provisional
        return at, self.calendar.is_provisional_range(local_date(start), local_date(at))

    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        """For reports: working days a clock consumed (its own measure for working-day clocks)."""
        if self.unit is DurationUnit.WORKING_DAYS:
            return round(elapsed / DAY, 4)
        if start is None or end is None:
            return 0.0
        return round(self.calendar.working_time_between(start, end).length / DAY, 4)

    def working_days_between(self, start: datetime, end: datetime) -> str:
        """How many working days lie between two instants, for an audit line: "1.5 working days"."""
        days = self.calendar.working_time_between(start, end).length / DAY if end > start else 0.0
        return _working_days(days)

    def describe_used(self, used: timedelta) -> str:
        """What a paused clock has used, in working days (its own measure for working-day clocks)."""
        if self.unit is DurationUnit.WORKING_DAYS:
            return _working_days(used / DAY)
        return f"{iso_duration(used)} elapsed"
