"""compute_clock_plan: the engine run with the current calendar, as a (local) activity.

Its result is recorded in the workflow's history, so replay never touches calendar data.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendar_source import CalendarSource
from sla.catalog.parse import parse_service
from sla.engine.clocks import compute_clocks
from sla.engine.model import ClockView
from sla.engine.rules import check_customer_windows
from sla.errors import SlaError
from workflows.messages import (
    ClockSnapshot,
    PlanInput,
    PlanResult,
    ThresholdSnapshot,
    TimelineSnapshot,
)


def snapshot(view: ClockView) -> ClockSnapshot:
    return ClockSnapshot(
        clock_id=view.clock_id,
        state=view.state.value,
        outcome=view.outcome.value if view.outcome else None,
        started_at=view.started_at,
        due_at=view.due_at,
        stopped_at=view.stopped_at,
        breached_at=view.breached_at,
        late_by_seconds=view.late_by_seconds,
        budget_seconds=view.budget_seconds,
        elapsed_seconds=view.elapsed_seconds,
        remaining_seconds=view.remaining_seconds,
        working_days_used=view.working_days_used,
        provisional=view.provisional,
        cycle=view.cycle,
        next_wake_at=view.next_wake_at,
        thresholds=[ThresholdSnapshot(t.fraction, t.at, t.fired) for t in view.thresholds],
        timeline=[TimelineSnapshot(e.at, e.kind, e.detail, e.event_seq) for e in view.timeline],
    )


PROVISIONAL = "no official data loaded: weekends only, provisional"


class PlanActivities:
    def __init__(self, calendars: CalendarSource) -> None:
        self.calendars = calendars

    @activity.defn(name="compute_clock_plan")
    async def compute_clock_plan(self, request: PlanInput) -> PlanResult:
        calendar = self.calendars.current()
        try:
            entry = parse_service(request.catalog_document, "pinned catalog entry")
            events = [e.to_domain() for e in request.events]
            if request.new_event is not None:
                earlier = [e for e in events if e.seq != request.new_event.seq]
                check_customer_windows(entry, earlier, request.new_event.to_domain(), calendar)
            views = compute_clocks(entry, events, calendar, request.now)
        except SlaError as error:
            # A business rule: the update fails with the rule and its source, and is not retried.
            raise ApplicationError(
                error.message, error.to_dict(), type=type(error).__name__, non_retryable=True
            ) from None
        years: set[int] = set()
        for view in views:
            if view.started_at is not None and view.due_at is not None:
                years.update(range(view.started_at.year, view.due_at.year + 1))
        sources = {
            str(year): calendar.years[year].source.describe() if year in calendar.years else PROVISIONAL
            for year in sorted(years)
        }
        return PlanResult([snapshot(v) for v in views], calendar.fingerprint, sources)
