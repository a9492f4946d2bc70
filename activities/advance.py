"""advance_request: one local activity per change of a request, in one pass: read (the request as
the workflow passed it, the kinds its vendor's webhooks want), plan, write.

It plans the change with the current calendar (sla/engine/plan.py: the clocks, what the change
corrected or moved, and whether a new event waits for the insurer's review) and writes the read
model. One activity instead of a plan and a projection halves the markers in history, and replaying a
local activity is the largest share of replay time (bench/replay.py).
Retried, it writes the same revision again, which the projection's revision guard ignores.
"""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from activities.projection import Change, ProjectionWriter
from sla.calendar.working import WorkingCalendar
from sla.engine.model import RecordedEvent
from sla.engine.plan import ClockPlan, PlannedChange, plan_change
from sla.engine.review import DEFAULT_LATE_LIMIT_WORKING_DAYS
from sla.errors import SlaError
from sla.event_data import EventDataError
from sla.events import request_status
from store.calendar import CalendarSource
from store.webhooks import Subscriptions
from workflows.failures import rule_failure
from workflows.messages import AdvanceInput, AdvanceResult, RequestView, WritePosition


def _planned(calendar: WorkingCalendar, change: AdvanceInput, late_limit: int | None = None) -> PlannedChange:
    """The change's plan (sla/engine/plan.py) from the request's state as the workflow passed it;
    `late_limit` None holds no event for review."""
    return plan_change(
        calendar,
        catalog_document=change.catalog_document,
        events=change.view.events,
        clocks=change.view.clocks,
        now=change.now,
        new_event=change.new_event,
        backfill=change.backfill,
        reason=change.reason,
        decision=change.decision,
        late_limit=late_limit,
    )


def _plans_without_the_new_event(calendar: WorkingCalendar, change: AdvanceInput) -> bool:
    """Whether a planning failure is the new event's doing: the request plans without it."""
    try:
        _planned(calendar, replace(change, new_event=None))
    except Exception:
        return False
    return True


def unplannable(event: RecordedEvent, error: Exception) -> EventDataError:
    return EventDataError(
        f"the clocks cannot be planned with this {event.type} ({type(error).__name__}); nothing was recorded",
        rule="event.unplannable",
        source="activities/advance.py: an event whose content fails the engine is refused, never retried",
    )


def changes_anything(change: AdvanceInput, plan: ClockPlan) -> bool:
    """Whether the change is more than a replan that moved nothing (nothing to write then)."""
    before = change.view
    return (
        change.new_event is not None
        or change.decision is not None
        or bool(change.backfill)
        or plan.clocks != before.clocks
        or plan.calendar_fingerprint != before.calendar_fingerprint
    )


def view_after(change: AdvanceInput, planned: PlannedChange) -> tuple[RequestView, RecordedEvent | None]:
    """The request after the change, and the new event when it counts (not held for review)."""
    before, plan, held, decided = change.view, planned.plan, planned.held, change.decision
    counted = change.new_event if change.new_event and held is None else None
    events = [*before.events, *change.backfill, *([counted] if counted else [])]
    reviews = [decided if decided and r.correction_id == decided.correction_id else r for r in before.reviews]
    reviews += [held] if held else []
    after = replace(
        before,
        status=request_status(e.type for e in events),
        revision=before.revision + 1,
        calendar_fingerprint=plan.calendar_fingerprint,
        events=events,
        clocks=plan.clocks,
        recomputes=[*before.recomputes, *planned.recomputes],
        corrections=[*before.corrections, *planned.corrections],
        calendar_sources=plan.calendar_sources,
        advisories=plan.advisories,
        reviews=reviews,
    )
    return after, counted


class RequestActivities:
    def __init__(
        self,
        calendars: CalendarSource,
        writer: ProjectionWriter,
        late_limit: int | None = DEFAULT_LATE_LIMIT_WORKING_DAYS,
    ) -> None:
        self.calendars = calendars
        self.writer = writer
        # Working days an event may be recorded late without review; None: no event is held at all.
        self.late_limit = late_limit
        self.subscriptions = Subscriptions(writer.engine)

    def _plan(self, change: AdvanceInput) -> PlannedChange:
        """The change's plan; a broken rule, or an event the engine cannot plan with, fails the update."""
        calendar = self.calendars.current(change.calendar_generation)
        try:
            return _planned(calendar, change, self.late_limit)
        except SlaError as error:
            raise rule_failure(error) from None  # the update fails with the rule and its source
        except Exception as error:
            event = change.new_event
            if event is None or not _plans_without_the_new_event(calendar, change):
                raise  # a bug or a fault of this worker, whatever was sent: retried
            # Retrying cannot make this event's content plannable, and would hold the request (and a
            # worker slot) hostage: the update fails, the request stays as it was.
            activity.logger.warning(
                "refused %s (seq %d): planning fails only with it (%s)", event.type, event.seq, type(error).__name__
            )
            raise rule_failure(unplannable(event, error)) from None

    # Synchronous on purpose: it writes the database, so it runs on the worker's activity thread pool
    # and never blocks the event loop that runs workflow tasks.
    @activity.defn(name="advance_request")
    def advance_request(self, change: AdvanceInput) -> AdvanceResult:
        planned = self._plan(change)
        plan, before = planned.plan, change.view
        kinds = sorted(self.subscriptions.kinds(before.vendor_id))
        if not changes_anything(change, plan) and before.revision > 0:
            return AdvanceResult(
                clocks=plan.clocks,
                calendar_fingerprint=plan.calendar_fingerprint,
                calendar_sources=plan.calendar_sources,
                revision=before.revision,
                subscribed_kinds=kinds,
            )
        after, counted = view_after(change, planned)
        position = self._position(change, after.revision)
        self.writer.write(
            Change(
                before=before,
                after=after,
                position=position,
                committed=change.written,
                catalog_version=change.catalog_version,
                personal=change.personal,
                catalog_document=change.catalog_document,
                new_event=counted,
                corrections=tuple(planned.corrections),
                recomputes=tuple(planned.recomputes),
                review=planned.held or change.decision,
            )
        )
        return AdvanceResult(
            clocks=plan.clocks,
            calendar_fingerprint=plan.calendar_fingerprint,
            calendar_sources=plan.calendar_sources,
            revision=after.revision,
            corrections=planned.corrections,
            recomputes=planned.recomputes,
            position=position,
            subscribed_kinds=kinds,
            held=planned.held,
        )

    @staticmethod
    def _position(change: AdvanceInput, revision: int) -> WritePosition:
        # Two attempts of one failed workflow task share its history length: the later one is the one
        # Temporal may commit, so the attempt's schedule time breaks the tie.
        scheduled = activity.info().scheduled_time
        return WritePosition(change.history_length, revision, int(scheduled.timestamp() * 1_000_000_000), change.run)
