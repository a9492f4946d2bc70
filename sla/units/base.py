"""What a duration unit is: the strategies' shared shape, and the helpers several units use.

Every unit-dependent decision is a method of one strategy class per unit (`sla.units.select` picks
it with one exhaustive `match`), so a new unit is a new class: nothing falls through to the
semantics of another unit. A method whose answer differs between units is abstract here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

from sla.calendar.timeutil import DAY, SHANGHAI, ZERO, end_of_day, iso_duration, local_date
from sla.calendar.working import Deadline, WorkingCalendar

if TYPE_CHECKING:  # the catalog's types name a unit; at run time the catalog imports this module
    from sla.catalog.model import Duration, WarnThreshold

_SECOND = timedelta(seconds=1)


class DurationUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    HOURS = "hours"
    # 当日: by 24:00 of the start's own local date (amount 1). Clocks only.
    SAME_DAY = "same_day"
    # 个月: the corresponding date N months on (Civil Code art. 202), art. 203 for a rest day. Windows only.
    CALENDAR_MONTHS = "calendar_months"


def share_of(budget: timedelta, share: Fraction) -> timedelta:
    """`share` of `budget` in whole seconds (rounded down: a warning is never late), never through a float."""
    seconds = budget // _SECOND
    return timedelta(seconds=seconds * share.numerator // share.denominator)


def working_days_text(days: float) -> str:
    days = round(days, 4)
    return f"{days:g} working day" + ("" if days == 1 else "s")


def wall_time(start: datetime, end: datetime) -> timedelta:
    """Wall-clock time from start to end, nothing when end is not later."""
    return end - start if end > start else ZERO


def at_cutoff(day: date, cutoff: str | None) -> datetime:
    """The latest instant of `day` a lead time allows: its cut-off time ("16:00"), else 24:00."""
    if cutoff:
        return datetime.combine(day, time.fromisoformat(cutoff), SHANGHAI)
    return end_of_day(day)


class UnitMeasure(ABC):
    """One duration (amount and unit) on one calendar: what every unit answers, clock or window."""

    unit: ClassVar[DurationUnit]
    # Why a clock of this unit cannot warn after an amount of its unit (warn_after); None = it can.
    warn_after_refusal: ClassVar[str | None] = None

    def __init__(self, duration: Duration, calendar: WorkingCalendar) -> None:
        if duration.unit is not self.unit:
            raise ValueError(f"a {self.unit.value} measure given a {duration.unit.value} duration")
        self.amount = duration.amount
        self.calendar = calendar

    @classmethod
    def describe(cls, amount: int) -> str:
        """How a duration of this unit reads: "10 working days", "1 hour"."""
        unit = cls.unit.value.replace("_", " ")
        return f"{amount} {unit[:-1] if amount == 1 else unit}"

    @classmethod
    def amount_refusal(cls, amount: int) -> str | None:
        """Why `amount` (a positive whole number) is not a duration of this unit; None when it is."""
        return None

    @abstractmethod
    def due(self, start: datetime) -> Deadline:
        """The due instant of this duration from `start` (GET /v1/calendar/due, within-after windows)."""


class ClockMeasure(UnitMeasure):
    """A unit an SLA clock counts in: its budget, where counting starts, elapsed time and adding time."""

    def __init__(self, duration: Duration, calendar: WorkingCalendar) -> None:
        super().__init__(duration, calendar)
        # For same_day clocks the budget depends on the start (the rest of that day); this is the most.
        self.budget = self.length(duration.amount)

    @classmethod
    @abstractmethod
    def length(cls, amount: int) -> timedelta:
        """The budget `amount` of this unit stands for, in its own measure (working time for working days)."""

    @abstractmethod
    def budget_from(self, start: datetime) -> timedelta:
        """The budget of a cycle whose counting starts at `start`."""

    @abstractmethod
    def origin(self, start: datetime) -> datetime:
        """Where counting begins for a clock started at `start`."""

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> timedelta:
        """How much of this unit's time lies in [start, end); nothing when end is not later."""

    @abstractmethod
    def add(self, start: datetime, amount: timedelta, *, period_end: bool = True) -> tuple[datetime, bool]:
        """The instant `amount` of this unit's time after `start`, and whether it is provisional.

        `period_end=False` for a warning: art. 203 moves the end of a period off a rest day, not a warning
        inside it (3 calendar days into a 5-day delivery is 24:00 of day 3, whatever day that is)."""

    @abstractmethod
    def working_days_used(self, elapsed: timedelta, start: datetime | None, end: datetime | None) -> float:
        """For reports: working days a clock consumed (its own measure for working-day clocks)."""

    @abstractmethod
    def describe_used(self, used: timedelta) -> str:
        """What a paused clock has used, in words."""

    def mark(self, threshold: WarnThreshold, budget: timedelta) -> timedelta:
        """How much of the budget is used when `threshold` fires: exact, in the clock's own measure."""
        if threshold.after is not None:  # an amount of the clock's own unit (the catalog checks it)
            return self.length(threshold.after.amount)
        return share_of(budget, threshold.share)

    def remaining(self, now: datetime, due_at: datetime) -> timedelta:
        """Time left before `due_at`, in this unit's measure; negative once overdue."""
        if now <= due_at:
            return self.between(now, due_at)
        return -self.between(due_at, now)

    def working_days_text_between(self, start: datetime, end: datetime) -> str:
        """How many working days lie between two instants, for an audit line: "1.5 working days"."""
        return working_days_text(self._working_days_spanned(start, end))

    def _working_days_spanned(self, start: datetime | None, end: datetime | None) -> float:
        """Working days on the calendar between two instants (for units that count other time)."""
        if start is None or end is None:
            return 0.0
        return round(self.calendar.working_time_between(start, end).length / DAY, 4)

    @staticmethod
    def _elapsed_text(used: timedelta) -> str:
        return f"{iso_duration(used)} elapsed"


class WindowMeasure(UnitMeasure):
    """A unit a customer window counts in: how long before a reference instant an event may come."""

    @abstractmethod
    def latest_before(self, reference: datetime, cutoff: str | None) -> datetime:
        """The latest instant this duration before `reference` (a lead time), at `cutoff` on day units."""


class DayCountedMeasure(ClockMeasure, WindowMeasure):
    """Units of whole days counted from the next midnight (working days, calendar days): a clock's
    budget is the same whenever it starts."""

    @classmethod
    def length(cls, amount: int) -> timedelta:
        return DAY * amount

    def budget_from(self, start: datetime) -> timedelta:
        return self.budget

    def origin(self, start: datetime) -> datetime:
        # Civil Code art. 201: a period in days starts counting at 00:00 after the start's local date.
        return end_of_day(local_date(start))
