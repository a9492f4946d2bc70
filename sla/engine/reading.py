"""How stored clocks read at a given instant: breached from due_at the moment it passes (views and
metrics must not wait for the workflow to work through a deadline herd), at risk, remaining."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.working import WorkingCalendar
from sla.catalog.model import DurationUnit

RUNNING = "running"
BREACHED = "breached"


def effective_state(state: str, due_at: datetime | None, now: datetime) -> str:
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
    if unit is not DurationUnit.WORKING_DAYS:
        return due_at - now
    if now <= due_at:
        return calendar.working_time_between(now, due_at).length
    return -calendar.working_time_between(due_at, now).length
