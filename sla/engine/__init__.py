"""The SLA clock engine: one place for the clock rules."""

from sla.engine.changes import outcome_changes
from sla.engine.clocks import compute_clocks, sort_events
from sla.engine.model import (
    ClockState,
    ClockView,
    Outcome,
    OutcomeChange,
    RecordedEvent,
    ThresholdView,
    TimelineEntry,
)

__all__ = [
    "ClockState",
    "ClockView",
    "Outcome",
    "OutcomeChange",
    "RecordedEvent",
    "ThresholdView",
    "TimelineEntry",
    "compute_clocks",
    "outcome_changes",
    "sort_events",
]
