"""A clock's measure: the strategy of its duration's unit (`sla.units`), bound to the duration and
the calendar. The units differ only there; the engine asks, it never branches on a unit."""

from __future__ import annotations

from sla.units import ClockMeasure, clock_measure, share_of

# `Measure(duration, calendar)`, as the engine has always called it: a factory now, returning the
# unit's `ClockMeasure` (ValueError for a unit only customer windows count in).
Measure = clock_measure

__all__ = ["ClockMeasure", "Measure", "share_of"]
