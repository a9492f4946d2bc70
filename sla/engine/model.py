"""What the clock engine reads (events) and returns (clock views)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sla.calendar.timeutil import require_aware
from sla.events import EventType


class ClockState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    EXEMPT = "exempt"
    CANCELLED = "cancelled"


# Ticking: counting its budget or holding it paused (sla/engine/reading.py reads them by phase).
TICKING_STATES = frozenset({ClockState.RUNNING, ClockState.PAUSED})
OPEN_STATES = frozenset({ClockState.PENDING, *TICKING_STATES})


def owes_stop(state: str, stopped_at: datetime | None) -> bool:
    """Still owes its stop: ticking, or breached and its stop not yet received."""
    return state in TICKING_STATES or (state == ClockState.BREACHED and stopped_at is None)


class Outcome(StrEnum):
    MET = "met"
    BREACHED = "breached"
    EXEMPT = "exempt"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the request log holds it: effective time plus the order it was received in."""

    type: EventType
    occurred_at: datetime
    seq: int
    sender: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    received_at: datetime | None = None  # when the workflow recorded it (the engine reads occurred_at only)

    def __post_init__(self) -> None:
        # Instants arrive in any offset (the read model gives UTC back); the engine's date arithmetic
        # is in Asia/Shanghai, so every event is converted once, here, at the door.
        object.__setattr__(self, "occurred_at", require_aware(self.occurred_at, "occurred_at"))

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return (self.occurred_at, self.seq)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # started, paused, resumed, restarted, warning, breached, stopped, exempted, cancelled, ignored
    detail: str
    event_seq: int | None = None


@dataclass(frozen=True)
class ThresholdView:
    fraction: float  # display and key: the exact share of the budget, as a float
    at: datetime | None  # None while paused: the instant is unknown until the clock resumes
    fired: bool
    label: str = ""  # how the manual states it, e.g. "after 5 working days"


@dataclass(frozen=True)
class ClockView:
    clock_id: str
    state: ClockState
    outcome: Outcome | None
    started_at: datetime | None
    due_at: datetime | None
    stopped_at: datetime | None
    breached_at: datetime | None
    late_by_seconds: int | None
    budget_seconds: int
    elapsed_seconds: int
    remaining_seconds: int
    working_days_used: float
    thresholds: tuple[ThresholdView, ...]
    provisional: bool
    cycle: int  # 0 before start, 1 at start, +1 per restart
    timeline: tuple[TimelineEntry, ...]
    next_wake_at: datetime | None  # the next warning or due instant while running
    # 1 for ordinary clocks; 1, 2, ... for the occurrences of a per-occurrence clock (its start event
    # happening again opens a new instance). A clock's identity is (clock_id, instance).
    instance: int = 1
    paused_at: datetime | None = None  # while paused: since when (due_at is then None)

    @property
    def is_open(self) -> bool:
        """Still waiting for something: pending, running, paused, or breached without its stop."""
        return self.state is ClockState.PENDING or owes_stop(self.state, self.stopped_at)

    @property
    def key(self) -> tuple[str, int]:
        return (self.clock_id, self.instance)


@dataclass(frozen=True)
class OutcomeChange:
    """A closed outcome that a retroactive event changed: recorded, never silently rewritten."""

    clock_id: str
    previous: Outcome
    current: Outcome | None
    reason: str
    instance: int = 1
    at: datetime | None = None  # when the request recorded the correction (set by the caller)


@dataclass(frozen=True)
class Advisory:
    """A customer-side recommendation the request's log does not meet: shown on the request, never a refusal."""

    rule: str  # customer_window.<id>
    message: str
    source: str  # "[002:344] (catalog axa.zhuoyue.special_drug)"
    event_seq: int  # the event that is late
    at: datetime  # the late instant
    limit: datetime  # the latest instant the manual recommends
