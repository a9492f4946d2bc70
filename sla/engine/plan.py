"""Planning one change of a request: the engine run with a calendar, the outcomes the change corrected
and the due instants it moved. Pure: the `advance_request` activity runs it with the current calendar
and records the result in the workflow's history (so replay never touches calendar data), and a
calendar dry run runs it on each open request's own state with the new year's overlay, so what a dry
run predicts is what the load does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sla.calendar.timeutil import local_date
from sla.calendar.working import WorkingCalendar
from sla.catalog.parse import parse_pinned
from sla.engine.changes import DueChange, due_changes, outcome_changes
from sla.engine.clocks import compute_clocks
from sla.engine.model import Advisory, ClockView, Outcome, OutcomeChange, RecordedEvent
from sla.engine.review import DEFAULT_LATE_LIMIT_WORKING_DAYS, CorrectionReview, may_need_review, review_of
from sla.engine.rules import advisories, check_customer_windows

PROVISIONAL = "no official data loaded: weekends only, provisional"


@dataclass
class ClockPlan:
    clocks: list[ClockView]
    calendar_fingerprint: str
    calendar_sources: dict[str, str]  # year -> notice, for the years the deadlines touch
    advisories: list[Advisory] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedChange:
    """What one change does to a request: the new clock plan, the outcomes it corrected and the due
    instants it moved (only for a calendar change, which carries a reason)."""

    plan: ClockPlan
    corrections: list[OutcomeChange]
    recomputes: list[DueChange]
    held: CorrectionReview | None = None  # the new event waits for the insurer: `plan` is without it


def plan_clocks(
    calendar: WorkingCalendar,
    catalog_document: dict[str, Any],
    events: list[RecordedEvent],
    new_event: RecordedEvent | None,
    now: datetime,
    backfill: Sequence[RecordedEvent] = (),
) -> ClockPlan:
    """Raises SlaError when a new event (the backfilled ones in order, then `new_event`) breaks a
    customer window (a rule that needs the calendar)."""
    entry = parse_pinned(catalog_document, "pinned catalog entry")
    domain_events = list(events)
    for added in [*backfill, *([new_event] if new_event else [])]:
        check_customer_windows(entry, domain_events, added, calendar)
        domain_events.append(added)
    views = compute_clocks(entry, domain_events, calendar, now)
    advice = advisories(entry, domain_events, calendar)
    years: set[int] = set()
    for view in views:
        if view.started_at is not None and view.due_at is not None:
            years.update(range(local_date(view.started_at).year, local_date(view.due_at).year + 1))
    sources = {
        str(year): calendar.years[year].source.describe() if year in calendar.years else PROVISIONAL
        for year in sorted(years)
    }
    return ClockPlan(views, calendar.fingerprint, sources, advice)


def _outcomes(clocks: Sequence[ClockView]) -> dict[tuple[str, int], Outcome | None]:
    return {c.key: c.outcome for c in clocks}


def _correction_reason(
    new_event: RecordedEvent | None, reason: str | None, decision: CorrectionReview | None = None
) -> str:
    if new_event is None:
        return reason or "recomputed"
    said = f"event {new_event.type} (seq {new_event.seq}) effective {new_event.occurred_at.isoformat()}"
    if decision is not None:
        said += f", held for review and accepted by {decision.decided_by}"
    return said


def plan_change(
    calendar: WorkingCalendar,
    *,
    catalog_document: dict[str, Any],
    events: list[RecordedEvent],
    clocks: Sequence[ClockView],
    now: datetime,
    new_event: RecordedEvent | None = None,
    backfill: Sequence[RecordedEvent] = (),
    reason: str | None = None,
    decision: CorrectionReview | None = None,
    late_limit: int | None = DEFAULT_LATE_LIMIT_WORKING_DAYS,
) -> PlannedChange:
    """The one code path from a request's state (its log `events` and its `clocks` before the change)
    to its next plan. `reason` names a calendar change: the due instants it moves are recorded with it.
    Raises SlaError for a refused event. A new event that would favour the clock's owner beyond what it
    may grant itself is held (sla/engine/review.py): the plan is then the one without it; `decision` is
    an insurer's acceptance of such an event (never held again); `late_limit` None holds nothing."""
    plan = plan_clocks(calendar, catalog_document, events, new_event, now, backfill)
    held = None
    if (
        new_event is not None
        and late_limit is not None
        and decision is None
        and may_need_review(clocks, new_event, now, calendar, late_limit)
    ):
        without = plan_clocks(calendar, catalog_document, events, None, now, backfill)
        held = review_of(without.clocks, plan.clocks, new_event, now, calendar, late_limit)
        if held is not None:
            plan = without
    why = _correction_reason(new_event, reason, decision)
    corrections = [replace(c, at=now) for c in outcome_changes(_outcomes(clocks), _outcomes(plan.clocks), why)]
    recomputes = []
    if reason:
        moved = due_changes(
            {c.key: (c.due_at, c.provisional) for c in clocks},
            [(c.key, c.due_at, c.provisional) for c in plan.clocks],
        )
        recomputes = [replace(m, reason=reason, at=now) for m in moved]
    return PlannedChange(plan, corrections, recomputes, held)
