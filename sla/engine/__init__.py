"""The SLA clock engine: one place for the clock rules."""

from sla.engine.changes import outcome_changes
from sla.engine.clocks import compute_clocks, sort_events
from sla.engine.model import (
    Advisory,
    ClockState,
    ClockView,
    Outcome,
    OutcomeChange,
    RecordedEvent,
    ThresholdView,
    TimelineEntry,
)
from sla.engine.rules import advisories

__all__ = [
    "Advisory",
    "ClockState",
    "ClockView",
    "Outcome",
    "OutcomeChange",
    "RecordedEvent",
    "ThresholdView",
    "TimelineEntry",
    "advisories",
    "compute_clocks",
    "outcome_changes",
    "sort_events",
]
