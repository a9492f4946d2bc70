"""The clock engine: every clock of a request, folded from its event log sorted by effective time.

One place for the rules (start on all of several events, pause/resume, restart, exempt, stop,
breach at the due instant). Events that arrive late with an earlier effective time are handled by
recomputing from the sorted log; `sla.engine.changes` says which outcomes and due instants moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sla.calendar.timeutil import require_aware
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import ClockSpec, ServiceEntry
from sla.engine.measure import Measure
from sla.engine.model import (
    ClockState,
    ClockView,
    Outcome,
    RecordedEvent,
    ThresholdView,
    TimelineEntry,
)
from sla.events import EventType

_CLOSED_BY_CANCEL = EventType.CUSTOMER_CANCELLED
_CLOSED_BY_COMPLETION = EventType.SERVICE_COMPLETED


class _ClockRun:
    """Mutable state of one clock while folding the log."""

    def __init__(self, spec: ClockSpec, measure: Measure) -> None:
        self.spec, self.measure = spec, measure
        self.state = ClockState.PENDING
        self.seen_start: set[EventType] = set()
        self.stop_seen_at: datetime | None = None
        self.started_at: datetime | None = None
        self.segment_origin: datetime | None = None
        self.used = timedelta(0)  # budget used in earlier segments of this cycle
        self.due_at: datetime | None = None
        self.provisional = False
        self.stopped_at: datetime | None = None
        self.breached_at: datetime | None = None
        self.cycle = 0
        self.fired: dict[float, datetime] = {}
        self.pending_thresholds: dict[float, datetime] = {}
        self.timeline: list[TimelineEntry] = []

    # -- helpers ---------------------------------------------------------------------------------
    def _note(self, at: datetime, kind: str, detail: str, event: RecordedEvent | None = None) -> None:
        self.timeline.append(TimelineEntry(at, kind, detail, event.seq if event else None))

    def _arm(self) -> None:
        """Compute the due and threshold instants of the running segment."""
        assert self.segment_origin is not None
        budget = self.measure.budget
        self.due_at, self.provisional = self.measure.add(self.segment_origin, budget - self.used)
        self.pending_thresholds = {}
        for fraction in self.spec.warn_at:
            if fraction in self.fired:
                continue
            mark = budget * fraction
            if mark > self.used:
                at, _ = self.measure.add(self.segment_origin, mark - self.used)
                self.pending_thresholds[fraction] = at

    def _begin_cycle(self, at: datetime, kind: str, event: RecordedEvent | None) -> None:
        self.cycle += 1
        if self.started_at is None:
            # the latest of the start events: the one that completes the set
            self.started_at = at
        self.state = ClockState.RUNNING
        self.used = timedelta(0)
        self.fired = {}
        self.segment_origin = max(self.measure.origin(at), at)
        self._arm()
        self._note(
            at, kind, f"cycle {self.cycle}: {self.spec.duration.describe()}, due {self.due_at:%Y-%m-%d %H:%M}", event
        )

    def advance_to(self, instant: datetime, *, inclusive: bool) -> None:
        """Let time pass on a running clock: fire warnings, and breach once `due_at` is passed."""
        if self.state is not ClockState.RUNNING:
            return
        for fraction, at in sorted(self.pending_thresholds.items(), key=lambda kv: kv[1]):
            if at <= instant:
                self.fired[fraction] = at
                del self.pending_thresholds[fraction]
                self._note(at, "warning", f"{fraction:.0%} of {self.spec.duration.describe()} used")
        assert self.due_at is not None
        if instant > self.due_at or (inclusive and instant >= self.due_at):
            self.state = ClockState.BREACHED
            self.breached_at = self.due_at
            self._note(self.due_at, "breached", f"not stopped by {self.due_at:%Y-%m-%d %H:%M}")

    def _elapsed_until(self, instant: datetime) -> timedelta:
        # A breached clock keeps counting until its stop arrives: that is how late it is.
        if self.segment_origin is not None and self.state in (ClockState.RUNNING, ClockState.BREACHED):
            end = min(self.stopped_at, instant) if self.stopped_at else instant
            return self.used + self.measure.between(self.segment_origin, end)
        return self.used

    def _close(self, state: ClockState, at: datetime, kind: str, detail: str, event: RecordedEvent | None) -> None:
        if self.state is ClockState.RUNNING:
            self.used = self._elapsed_until(at)
        self.state = state
        self.stopped_at = at
        self.pending_thresholds = {}
        self._note(at, kind, detail, event)

    # -- the rules -------------------------------------------------------------------------------
    def apply(self, event: RecordedEvent) -> None:
        spec, kind, at = self.spec, event.type, event.occurred_at
        self.advance_to(at, inclusive=False)
        state = self.state

        if state is ClockState.BREACHED and self.stopped_at is None:
            if kind in spec.stop:
                self.stopped_at = at
                assert self.due_at is not None
                self._note(at, "stopped", f"{kind.value}: delivered {at - self.due_at} late", event)
            return
        if state in (ClockState.MET, ClockState.EXEMPT, ClockState.CANCELLED, ClockState.BREACHED):
            return

        if kind is _CLOSED_BY_CANCEL:
            self._close(ClockState.CANCELLED, at, "cancelled", "customer cancelled the request", event)
            return
        if state is ClockState.PENDING:
            self._apply_pending(event)
        elif kind in spec.stop:
            self._close(ClockState.MET, at, "stopped", f"{kind.value}: met", event)
        elif kind in spec.exempt:
            self._close(ClockState.EXEMPT, at, "exempted", f"{kind.value}: closed without breach", event)
        elif state is ClockState.RUNNING and kind in spec.pause:
            assert self.segment_origin is not None
            self.used += self.measure.between(self.segment_origin, at)
            self.state = ClockState.PAUSED
            self.pending_thresholds = {}
            self._note(at, "paused", f"{kind.value}: {self.used} of {self.measure.budget} used", event)
        elif state is ClockState.PAUSED and kind in spec.restart:
            self._begin_cycle(at, "restarted", event)
        elif state is ClockState.PAUSED and kind in spec.resume:
            self.state = ClockState.RUNNING
            self.segment_origin = at
            self._arm()
            self._note(at, "resumed", f"{kind.value}: due {self.due_at:%Y-%m-%d %H:%M}", event)
        elif kind in (*spec.restart, *spec.resume, *spec.pause):
            self._note(at, "ignored", f"{kind.value} has no effect on a {state.value} clock", event)

    def _apply_pending(self, event: RecordedEvent) -> None:
        spec, kind, at = self.spec, event.type, event.occurred_at
        if kind is _CLOSED_BY_COMPLETION:
            self._close(ClockState.CANCELLED, at, "cancelled", "service completed before the clock started", event)
            return
        if kind in spec.stop and self.stop_seen_at is None:
            self.stop_seen_at = at
        if kind in spec.start_all_of:
            self.seen_start.add(kind)
            if self.seen_start >= set(spec.start_all_of):
                self._begin_cycle(at, "started", event)
                if self.stop_seen_at is not None:
                    self._close(ClockState.MET, at, "stopped", "delivered before the clock started", event)

    def view(self, now: datetime) -> ClockView:
        self.advance_to(now, inclusive=True)
        end = self.stopped_at or now
        elapsed = self._elapsed_until(now)
        budget = self.measure.budget
        thresholds = tuple(
            ThresholdView(f, self.fired.get(f) or self.pending_thresholds.get(f), f in self.fired)
            for f in self.spec.warn_at
        )
        next_wake = None
        if self.state is ClockState.RUNNING:
            candidates = [t for t in self.pending_thresholds.values() if t > now]
            if self.due_at is not None:
                candidates.append(self.due_at)
            next_wake = min(candidates) if candidates else None
        late_by = None
        if self.state is ClockState.BREACHED and self.stopped_at is not None and self.due_at is not None:
            late_by = int((self.stopped_at - self.due_at).total_seconds())
        return ClockView(
            clock_id=self.spec.id,
            state=self.state,
            outcome=_OUTCOMES.get(self.state),
            started_at=self.started_at,
            due_at=self.due_at,
            stopped_at=self.stopped_at,
            breached_at=self.breached_at,
            late_by_seconds=late_by,
            budget_seconds=int(budget.total_seconds()),
            elapsed_seconds=int(elapsed.total_seconds()),
            remaining_seconds=int((budget - elapsed).total_seconds()),
            working_days_used=self.measure.working_days_used(elapsed, self.started_at, end),
            thresholds=thresholds,
            provisional=self.provisional,
            cycle=self.cycle,
            timeline=tuple(sorted(self.timeline, key=lambda e: e.at)),
            next_wake_at=next_wake,
        )


_OUTCOMES = {
    ClockState.MET: Outcome.MET,
    ClockState.BREACHED: Outcome.BREACHED,
    ClockState.EXEMPT: Outcome.EXEMPT,
    ClockState.CANCELLED: Outcome.CANCELLED,
}


def sort_events(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """Effective time first; the order received breaks ties."""
    return sorted(events, key=lambda e: e.sort_key)


def compute_clocks(
    entry: ServiceEntry, events: Sequence[RecordedEvent], calendar: WorkingCalendar, now: datetime
) -> list[ClockView]:
    """Every clock of `entry` as of `now`, from the request's whole event log."""
    now = require_aware(now, "now")
    ordered = sort_events(events)
    views = []
    for spec in entry.clocks:
        run = _ClockRun(spec, Measure(spec.duration, calendar))
        for event in ordered:
            if event.occurred_at > now:
                break
            run.apply(event)
        views.append(run.view(now))
    return views
