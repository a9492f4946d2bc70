"""How each duration unit counts time: the only place the units differ."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.timeutil import DAY, end_of_day, local_date, start_of_day
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import Duration, DurationUnit


class Measure:
    """Budget, counting origin, elapsed and add for one clock duration."""

    def __init__(self, duration: Duration, calendar: WorkingCalendar) -> None:
        self.duration = duration
        self.calendar = calendar
        self.unit = duration.unit
        if self.unit is DurationUnit.HOURS:
            self.budget = timedelta(hours=duration.amount)
        else:
            self.budget = DAY * duration.amount

    def origin(self, start: datetime) -> datetime:
        """Where counting begins. Civil Code art. 201: a period in days skips its first day."""
        if self.unit is DurationUnit.HOURS:
            return start
        return start_of_day(local_date(start) + DAY)

    def between(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        if self.unit is DurationUnit.WORKING_DAYS:
            return self.calendar.working_time_between(start, end).length
        return end - start

    def add(self, start: datetime, amount: timedelta) -> tuple[datetime, bool]:
        """The instant `amount` of this unit's time after `start`, and whether it is provisional."""
        if self.unit is DurationUnit.WORKING_DAYS:
            return self.calendar.add_working_time(start, amount)
        at = start + amount
        if self.unit is DurationUnit.CALENDAR_DAYS and at == start_of_day(local_date(at)):
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
