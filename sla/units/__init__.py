"""Duration units as strategies: one class per unit says how it counts (budget, origin, elapsed, add,
due, lead time, working days used, how it reads); `select` picks the class with one exhaustive match.

Adding a unit: a member of `DurationUnit`, a class (a `ClockMeasure`, a `WindowMeasure` or both), its
case in `measure_class`, and its tests (tests/domain/test_units.py).
"""

from sla.units.base import ClockMeasure, DurationUnit, UnitMeasure, WindowMeasure, share_of
from sla.units.select import CLOCK_UNITS, WINDOW_UNITS, clock_measure, measure_class, measure_of, window_measure

__all__ = [
    "CLOCK_UNITS",
    "WINDOW_UNITS",
    "ClockMeasure",
    "DurationUnit",
    "UnitMeasure",
    "WindowMeasure",
    "clock_measure",
    "measure_class",
    "measure_of",
    "share_of",
    "window_measure",
]
