"""The one place a duration unit is turned into its strategy: an exhaustive `match`, so mypy flags a
unit added to `DurationUnit` without its class. Which units clocks and windows may use follows from
the classes (a `ClockMeasure`, a `WindowMeasure`, or both)."""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from sla.calendar.working import WorkingCalendar
from sla.units.base import ClockMeasure, DurationUnit, UnitMeasure, WindowMeasure
from sla.units.calendar_days import CalendarDays
from sla.units.calendar_months import CalendarMonths
from sla.units.hours import Hours
from sla.units.same_day import SameDay
from sla.units.working_days import WorkingDays

if TYPE_CHECKING:  # the catalog's types name a unit; at run time the catalog imports this module
    from sla.catalog.model import Duration


def measure_class(unit: DurationUnit) -> type[UnitMeasure]:
    match unit:
        case DurationUnit.WORKING_DAYS:
            return WorkingDays
        case DurationUnit.CALENDAR_DAYS:
            return CalendarDays
        case DurationUnit.HOURS:
            return Hours
        case DurationUnit.SAME_DAY:
            return SameDay
        case DurationUnit.CALENDAR_MONTHS:
            return CalendarMonths
        case _:
            assert_never(unit)


CLOCK_UNITS = frozenset(u for u in DurationUnit if issubclass(measure_class(u), ClockMeasure))
WINDOW_UNITS = frozenset(u for u in DurationUnit if issubclass(measure_class(u), WindowMeasure))


def measure_of(duration: Duration, calendar: WorkingCalendar) -> UnitMeasure:
    """Any duration's strategy: enough for its due instant (`.due(start)`)."""
    return measure_class(duration.unit)(duration, calendar)


def clock_measure(duration: Duration, calendar: WorkingCalendar) -> ClockMeasure:
    """The strategy of a clock's duration. ValueError for a unit only windows count in."""
    strategy = measure_class(duration.unit)
    if not issubclass(strategy, ClockMeasure):
        raise ValueError(f"{duration.unit.value} is a window unit, not a clock unit")
    return strategy(duration, calendar)


def window_measure(duration: Duration, calendar: WorkingCalendar) -> WindowMeasure:
    """The strategy of a customer window's duration. ValueError for a unit only clocks count in."""
    strategy = measure_class(duration.unit)
    if not issubclass(strategy, WindowMeasure):
        raise ValueError(f"{duration.unit.value} is a clock unit, not a window unit")
    return strategy(duration, calendar)
