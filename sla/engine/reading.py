"""How a clock reads: the one definition of "open", "ticking", "at risk", "breached" and "paused",
used by the projection (what it stores), views, list filters, /metrics and the tallies. The SQL clauses
that filter and count by these rules are their translation, in api/readings.py.

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
from sla.engine.model import TICKING_STATES, ClockState, ClockView, owes_stop
from sla.events import RequestStatus
from sla.units import clock_measure


class Phase(StrEnum):
    """A clock's reading: its engine state, with a running clock past its last warning `at_risk`."""

    PENDING = "pending"
    RUNNING = "running"
    AT_RISK = "at_risk"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    EXEMPT = "exempt"
    CANCELLED = "cancelled"


def phases_of(*states: ClockState) -> frozenset[Phase]:
    """The phases a clock in one of `states` can be stored with (a running one may be at risk)."""
    phases = {Phase(state) for state in states}
    return frozenset(phases | {Phase.AT_RISK}) if ClockState.RUNNING in states else frozenset(phases)


# Counting down: the instant can move these to at_risk or breached.
COUNTING = phases_of(ClockState.RUNNING)
# Ticking (running, at risk or paused): they owe a deadline that a calendar change can move.
TICKING = phases_of(*TICKING_STATES)


# -- what the workflow records ----------------------------------------------------------------------
def at_risk_from(clock: ClockView) -> datetime | None:
    """The at-risk rule: a running clock is at risk from its last warning's instant until it is due."""
    return clock.thresholds[-1].at if clock.state is ClockState.RUNNING and clock.thresholds else None


def recorded_phase(clock: ClockView) -> Phase:
    """The phase to store for `clock`: at risk once its last warning has fired while it runs."""
    if clock.state is ClockState.RUNNING and clock.thresholds and clock.thresholds[-1].fired:
        return Phase.AT_RISK
    return Phase(clock.state)


# -- what the instant decides -----------------------------------------------------------------------
def is_past_due(due_at: datetime | None, now: datetime) -> bool:
    """The breach rule for a clock that counts down: breached once its due instant has passed."""
    return due_at is not None and now > due_at


def is_in_risk_window(at_risk_from: datetime | None, due_at: datetime | None, now: datetime) -> bool:
    """Past the last warning's instant and not yet past due."""
    return at_risk_from is not None and at_risk_from <= now and not is_past_due(due_at, now)


def phase_at(phase: str, due_at: datetime | None, at_risk_from: datetime | None, now: datetime) -> Phase:
    """The phase at `now`: breached once due_at has passed, at risk once the last warning's instant has."""
    stored = Phase(phase)
    if stored in COUNTING and is_past_due(due_at, now):
        return Phase.BREACHED
    if stored is Phase.RUNNING and is_in_risk_window(at_risk_from, due_at, now):
        return Phase.AT_RISK
    return stored


def effective_state(state: str, due_at: datetime | None, now: datetime) -> str:
    """The engine state at `now` (at risk is a flag on a running clock, not a state)."""
    if state == ClockState.RUNNING and is_past_due(due_at, now):
        return ClockState.BREACHED
    return state


def is_at_risk(state: str, at_risk_from: datetime | None, due_at: datetime | None, now: datetime) -> bool:
    return state == ClockState.RUNNING and is_in_risk_window(at_risk_from, due_at, now)


def counts_as_open(request_status: str, state: str, stopped_at: datetime | None) -> bool:
    """An open clock for /metrics: in an open request, and still owing its stop (running or paused, or
    breached and still waiting for its stop: a breached clock that was delivered late is closed)."""
    return request_status == RequestStatus.OPEN and owes_stop(state, stopped_at)


def remaining(
    unit: DurationUnit, calendar: WorkingCalendar, state: str, due_at: datetime | None, now: datetime
) -> timedelta | None:
    """Time left before due, in the clock's own measure; negative once overdue; None if not ticking."""
    if state not in (ClockState.RUNNING, ClockState.BREACHED) or due_at is None:
        return None
    # How time is measured does not depend on the amount: any duration of the unit answers.
    return clock_measure(Duration(unit, 1), calendar).remaining(now, due_at)
