"""The clock engine: every clock of a request, folded from its event log sorted by effective time.

One place for the rules (start on all of several events, pause/resume, restart, exempt, stop,
breach at the due instant, one instance per occurrence for per-occurrence clocks). Events that
arrive late with an earlier effective time are handled by recomputing from the sorted log;
`sla.engine.changes` says which outcomes and due instants moved.

Every instant returned is in Asia/Shanghai (+08:00): events are converted at the door
(`RecordedEvent`), `now` here, and the calendar only builds instants in that zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sla.calendar.timeutil import iso_duration, require_aware
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import ClockSpec, ServiceEntry, WarnThreshold
from sla.engine.model import (
    ClockState,
    ClockView,
    Outcome,
    RecordedEvent,
    ThresholdView,
    TimelineEntry,
    owes_stop,
)
from sla.events import EventType
from sla.units import ClockMeasure, clock_measure, window_measure

_CLOSED_BY_CANCEL = EventType.CUSTOMER_CANCELLED
_CLOSED_BY_COMPLETION = EventType.SERVICE_COMPLETED


class _ClockRun:
    """Mutable state of one clock (or one instance of a per-occurrence clock) while folding the log."""

    def __init__(
        self, spec: ClockSpec, measure: ClockMeasure, instance: int = 1, calendar: WorkingCalendar | None = None
    ) -> None:
        self.spec, self.measure, self.instance = spec, measure, instance
        self.calendar = calendar  # judges the customer's notice (`spec.notice`)
        self.last_notice: RecordedEvent | None = None  # the latest notice event before the start
        self.thresholds = spec.thresholds()
        self.state = ClockState.PENDING
        self.seen_start: set[EventType] = set()
        self.stop_seen_at: datetime | None = None
        self.started_at: datetime | None = None  # the current cycle's start
        self.segment_origin: datetime | None = None
        self.budget = measure.budget  # the current cycle's budget (same-day clocks: the rest of that day)
        self.used = timedelta(0)  # budget used in earlier segments of this cycle
        self.due_at: datetime | None = None  # None until started and while paused
        self.provisional = False
        self.paused_at: datetime | None = None
        self.stopped_at: datetime | None = None
        self.breached_at: datetime | None = None
        self.cycle = 0
        self.fired: dict[WarnThreshold, datetime] = {}
        self.pending_thresholds: dict[WarnThreshold, datetime] = {}
        self.timeline: list[TimelineEntry] = []

    # -- helpers ---------------------------------------------------------------------------------
    def _note(self, at: datetime, kind: str, detail: str, event: RecordedEvent | None = None) -> None:
        self.timeline.append(TimelineEntry(at, kind, detail, event.seq if event else None))

    def _arm(self) -> None:
        """Compute the due and threshold instants of the running segment, exactly."""
        assert self.segment_origin is not None
        self.due_at, self.provisional = self.measure.add(self.segment_origin, self.budget - self.used)
        self.pending_thresholds = {}
        for threshold in self.thresholds:
            if threshold in self.fired:
                continue
            mark = self.measure.mark(threshold, self.budget)
            if mark > self.used:
                at, _ = self.measure.add(self.segment_origin, mark - self.used, period_end=False)
                self.pending_thresholds[threshold] = at

    def _begin_cycle(self, at: datetime, kind: str, event: RecordedEvent | None) -> None:
        self.cycle += 1
        self.started_at = at  # the latest of the start events (or the restart): this cycle's start
        self.state = ClockState.RUNNING
        self.used = timedelta(0)
        self.fired = {}
        self.paused_at = None
        self.segment_origin = max(self.measure.origin(at), at)
        self.budget = self.measure.budget_from(self.segment_origin)
        self._arm()
        self._note(
            at, kind, f"cycle {self.cycle}: {self.spec.duration.describe()}, due {self.due_at:%Y-%m-%d %H:%M}", event
        )

    def advance_to(self, instant: datetime, *, inclusive: bool) -> None:
        """Let time pass on a running clock: fire warnings, and breach once `due_at` is passed."""
        if self.state is not ClockState.RUNNING:
            return
        for threshold, at in sorted(self.pending_thresholds.items(), key=lambda kv: kv[1]):
            if at <= instant:
                self.fired[threshold] = at
                del self.pending_thresholds[threshold]
                self._note(at, "warning", f"{threshold.label} of {self.spec.duration.describe()}")
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

    @property
    def is_open_instance(self) -> bool:
        """Still owes its stop: running, paused, or breached without its stop."""
        return owes_stop(self.state, self.stopped_at)

    # -- the rules -------------------------------------------------------------------------------
    def apply(self, event: RecordedEvent) -> None:
        spec, kind, at = self.spec, event.type, event.occurred_at
        self.advance_to(at, inclusive=False)
        state = self.state

        if state is ClockState.BREACHED and self.stopped_at is None:
            self._apply_while_breached(event)
            return
        if state in (ClockState.MET, ClockState.EXEMPT, ClockState.CANCELLED, ClockState.BREACHED):
            return

        if kind is _CLOSED_BY_CANCEL:
            self._close(ClockState.CANCELLED, at, "cancelled", "customer cancelled the request", event)
            return
        if kind in spec.void:
            self._close(ClockState.EXEMPT, at, "exempted", f"{kind.value}: never owed", event)
            return
        if state is ClockState.PENDING:
            self._apply_pending(event)
        elif kind in spec.stop:
            self._close(ClockState.MET, at, "stopped", f"{kind.value}: met", event)
        elif kind in spec.exempt:
            self._close(ClockState.EXEMPT, at, "exempted", f"{kind.value}: closed without breach", event)
        elif state is ClockState.RUNNING and kind in spec.pause:
            self._pause(event)
        elif state is ClockState.PAUSED and kind in spec.restart:
            self._begin_cycle(at, "restarted", event)
        elif state is ClockState.PAUSED and kind in spec.resume:
            self.state = ClockState.RUNNING
            self.segment_origin = at
            self.paused_at = None
            self._arm()
            self._note(at, "resumed", f"{kind.value}: due {self.due_at:%Y-%m-%d %H:%M}", event)
        elif kind in (*spec.restart, *spec.resume, *spec.pause):
            self._note(at, "ignored", f"{kind.value} has no effect on a {state.value} clock", event)

    def _apply_while_breached(self, event: RecordedEvent) -> None:
        """A breached clock still owed: a void withdraws the breach, a stop records how late it came."""
        spec, kind, at = self.spec, event.type, event.occurred_at
        if kind in spec.void:
            # Never owed (001:L552): the breach shown while it looked owed is withdrawn.
            self.breached_at = None
            self._close(ClockState.EXEMPT, at, "exempted", f"{kind.value}: never owed, breach withdrawn", event)
        elif kind in spec.stop:
            self.stopped_at = at
            assert self.due_at is not None
            late = f"{iso_duration(at - self.due_at)} ({self.measure.working_days_text_between(self.due_at, at)})"
            self._note(at, "stopped", f"{kind.value}: delivered {late} late", event)

    def _pause(self, event: RecordedEvent) -> None:
        at = event.occurred_at
        assert self.segment_origin is not None
        self.used += self.measure.between(self.segment_origin, at)
        self.state = ClockState.PAUSED
        self.pending_thresholds = {}
        self.due_at, self.provisional, self.paused_at = None, False, at  # no due while nothing counts
        used = f"{iso_duration(self.used)} of {iso_duration(self.budget)} ({self.measure.describe_used(self.used)})"
        self._note(at, "paused", f"{event.type.value}: {used} used", event)

    def _apply_pending(self, event: RecordedEvent) -> None:
        spec, kind, at = self.spec, event.type, event.occurred_at
        if kind is _CLOSED_BY_COMPLETION:
            self._close(ClockState.CANCELLED, at, "cancelled", "service completed before the clock started", event)
            return
        if spec.notice is not None and kind is spec.notice.event:
            self.last_notice = event
        # In order, a stop counts only after the start: it answers the step that started the clock.
        if kind in spec.stop and self.stop_seen_at is None and not spec.in_order:
            self.stop_seen_at = at
        if kind in spec.start_all_of:
            if spec.in_order and not self._next_in_order(kind):
                self._note(at, "ignored", f"{kind.value} before {self._expected().value}: starts count in order", event)
                return
            self.seen_start.add(kind)
            if self.seen_start >= set(spec.start_all_of):
                refusal = self._notice_refusal(at)
                if refusal:
                    self._close(ClockState.EXEMPT, at, "exempted", refusal, event)
                    return
                self._begin_cycle(at, "started", event)
                if self.stop_seen_at is not None:
                    self._close(ClockState.MET, at, "stopped", "delivered before the clock started", event)

    def _expected(self) -> EventType:
        return next(e for e in self.spec.start_all_of if e not in self.seen_start)

    def _next_in_order(self, kind: EventType) -> bool:
        """Whether `kind` may count now: every start event listed before it has happened."""
        position = self.spec.start_all_of.index(kind)
        return all(e in self.seen_start for e in self.spec.start_all_of[:position])

    def _notice_refusal(self, start: datetime) -> str | None:
        """Why the customer's notice the commitment depends on was not given in time; None when it was."""
        notice = self.spec.notice
        if notice is None:
            return None
        assert self.calendar is not None, "a clock with a notice is computed with the calendar"
        limit = window_measure(notice.lead, self.calendar).latest_before(start, None)
        given = self.last_notice
        if given is None:
            return f"never owed: no {notice.event.value} before it (needed by {limit:%Y-%m-%d %H:%M})"
        if given.occurred_at > limit:
            return (
                f"never owed: {notice.event.value} at {given.occurred_at:%Y-%m-%d %H:%M} is after "
                f"{limit:%Y-%m-%d %H:%M} ({notice.lead.describe()} before)"
            )
        return None

    def view(self, now: datetime) -> ClockView:
        self.advance_to(now, inclusive=True)
        end = self.stopped_at or now
        elapsed = self._elapsed_until(now)
        thresholds = tuple(
            ThresholdView(float(t.share), self.fired.get(t) or self.pending_thresholds.get(t), t in self.fired, t.label)
            for t in self.thresholds
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
            budget_seconds=int(self.budget.total_seconds()),
            elapsed_seconds=int(elapsed.total_seconds()),
            remaining_seconds=int((self.budget - elapsed).total_seconds()),
            working_days_used=self.measure.working_days_used(elapsed, self.started_at, end),
            thresholds=thresholds,
            provisional=self.provisional,
            cycle=self.cycle,
            timeline=tuple(sorted(self.timeline, key=lambda e: e.at)),
            next_wake_at=next_wake,
            instance=self.instance,
            paused_at=self.paused_at if self.state is ClockState.PAUSED else None,
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


def _instance_named(event: RecordedEvent) -> int | None:
    value = event.data.get("instance")
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fold_occurrences(
    spec: ClockSpec, measure: ClockMeasure, ordered: Sequence[RecordedEvent], now: datetime, calendar: WorkingCalendar
) -> list[ClockView]:
    """A per-occurrence clock: each start event opens instance n+1; a stop or exempt event closes the
    instance its data names (`instance`: n), or else the oldest open one; a stop with no open instance
    to close changes nothing. Cancelling the request cancels every open instance."""
    (start,) = spec.start_all_of
    runs: list[_ClockRun] = []
    placeholder = _ClockRun(spec, measure, calendar=calendar)  # shown (pending) until the first occurrence
    notice: RecordedEvent | None = None  # the latest notice since the previous occurrence
    for event in ordered:
        if event.occurred_at > now:
            break
        kind = event.type
        if spec.notice is not None and kind is spec.notice.event:
            notice = event
        if kind is start:
            run = _ClockRun(spec, measure, len(runs) + 1, calendar)
            run.last_notice, notice = notice, None
            run.apply(event)
            runs.append(run)
        elif kind in spec.stop or kind in spec.exempt or kind in spec.void:
            named = _instance_named(event)
            if named is not None:
                if 1 <= named <= len(runs):
                    runs[named - 1].apply(event)
                continue
            for run in runs:
                run.advance_to(event.occurred_at, inclusive=False)
                if run.is_open_instance:
                    run.apply(event)
                    break
        elif kind in (_CLOSED_BY_CANCEL, _CLOSED_BY_COMPLETION):
            for run in runs or [placeholder]:
                run.apply(event)
    return [run.view(now) for run in runs] or [placeholder.view(now)]


def compute_clocks(
    entry: ServiceEntry, events: Sequence[RecordedEvent], calendar: WorkingCalendar, now: datetime
) -> list[ClockView]:
    """Every clock of `entry` as of `now`, from the request's whole event log.

    One view per clock in catalog order; a per-occurrence clock gives one view per occurrence
    (instance 1, 2, ...), or a single pending view (instance 1) before its first occurrence.
    """
    now = require_aware(now, "now")
    ordered = sort_events(events)
    views: list[ClockView] = []
    for spec in entry.clocks:
        measure = clock_measure(spec.duration, calendar)
        if spec.per_occurrence:
            views.extend(_fold_occurrences(spec, measure, ordered, now, calendar))
            continue
        run = _ClockRun(spec, measure, calendar=calendar)
        for event in ordered:
            if event.occurred_at > now:
                break
            run.apply(event)
        views.append(run.view(now))
    return views
