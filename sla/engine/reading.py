"""How a stored clock reads at a given instant, the one definition used by views, list filters,
/metrics and the projection's tallies.

A stored clock carries the phase the workflow last recorded: its engine state, except that a running
clock whose last warning has been recorded is `at_risk`. Between the instant a warning or a deadline
passes and the moment the workflow records it (a deadline herd at 24:00 can take seconds to drain),
the instant decides: views and metrics must not wait for the workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sla.calendar.working import WorkingCalendar
from sla.catalog.model import Duration, DurationUnit
from sla.engine.measure import Measure
from sla.events import RequestStatus


class Phase(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AT_RISK = "at_risk"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    EXEMPT = "exempt"
    CANCELLED = "cancelled"


RUNNING = Phase.RUNNING.value
BREACHED = Phase.BREACHED.value
# Phases whose clock still counts down: the instant can move them to at_risk or breached.
COUNTING = frozenset({Phase.RUNNING, Phase.AT_RISK})
# The phases /metrics reports as open clocks (sla_clocks_open{state}).
OPEN_PHASES = frozenset({Phase.RUNNING, Phase.AT_RISK, Phase.PAUSED, Phase.BREACHED})


def recorded_phase(state: str, last_warning_fired: bool) -> Phase:
    """The phase to store for a clock in engine state `state`."""
    if state == Phase.RUNNING and last_warning_fired:
        return Phase.AT_RISK
    return Phase(state)


def phase_at(phase: str, due_at: datetime | None, at_risk_from: datetime | None, now: datetime) -> Phase:
    """The phase at `now`: breached once due_at has passed, at risk once the last warning's instant has."""
    stored = Phase(phase)
    if stored in COUNTING and due_at is not None and now > due_at:
        return Phase.BREACHED
    if stored is Phase.RUNNING and at_risk_from is not None and at_risk_from <= now:
        return Phase.AT_RISK
    return stored


def counts_as_open(request_status: str, state: str, stopped_at: datetime | None) -> bool:
    """An open clock for /metrics: in an open request, running or paused, or breached and still
    waiting for its stop (a breached clock that was delivered late is closed)."""
    if request_status != RequestStatus.OPEN:
        return False
    return state in (Phase.RUNNING, Phase.PAUSED) or (state == Phase.BREACHED and stopped_at is None)


def effective_state(state: str, due_at: datetime | None, now: datetime) -> str:
    """The engine state at `now` (at risk is a flag on a running clock, not a state)."""
    if state == RUNNING and due_at is not None and now > due_at:
        return BREACHED
    return state


def is_at_risk(state: str, at_risk_from: datetime | None, due_at: datetime | None, now: datetime) -> bool:
    return effective_state(state, due_at, now) == RUNNING and at_risk_from is not None and at_risk_from <= now


def remaining(
    unit: DurationUnit, calendar: WorkingCalendar, state: str, due_at: datetime | None, now: datetime
) -> timedelta | None:
    """Time left before due, in the clock's own measure; negative once overdue; None if not ticking."""
    if state not in (RUNNING, BREACHED) or due_at is None:
        return None
    # How time is measured does not depend on the amount: any duration of the unit answers.
    return Measure(Duration(unit, 1), calendar).remaining(now, due_at)
