"""Whether an event may be recorded: checks without the calendar, then customer windows with it;
and the advisories (customer-side recommendations) a request's log does not meet.

`precheck_event` needs no calendar, so a workflow's update validator can call it and reject a bad
event before anything reaches history. `check_customer_windows` needs the calendar and runs in an
activity. `advisories` is pure too: it never refuses anything, it says what the request shows.

A window pairs each of its subject events with one reference: the latest reference event at or
before the subject (by effective time, then arrival), or, when none precedes it, the latest one after
it (a lead time announced later, e.g. the planned admission on a notice sent after the application,
as last announced).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sla.calendar.timeutil import require_aware
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import CustomerWindow, ServiceEntry, WindowKind
from sla.engine.model import Advisory, RecordedEvent
from sla.errors import (
    CustomerWindowError,
    EventNotAcceptedError,
    EventNotAllowedError,
    FutureEventError,
    UnknownEventError,
)
from sla.events import CLOSING_EVENTS, SYSTEM_EVENTS, EventType
from sla.units import window_measure

# Coordinators' clocks drift; an event stamped a little ahead of the server is not "in the future".
CLOCK_SKEW_TOLERANCE = timedelta(minutes=2)


def parse_event_type(name: str) -> EventType:
    try:
        event_type = EventType(name)
    except ValueError:
        raise UnknownEventError(
            f"unknown event {name!r}; known events: {', '.join(e.value for e in EventType if e not in SYSTEM_EVENTS)}",
            source="sla/events.py: the event names",
        ) from None
    if event_type in SYSTEM_EVENTS:
        raise EventNotAllowedError(
            f"{name!r} is recorded by the system, not sent", source="sla/events.py: the events the system records"
        )
    return event_type


def precheck_event(
    entry: ServiceEntry,
    log: Sequence[RecordedEvent],
    event_type: str,
    occurred_at: datetime,
    now: datetime,
    ticking_clocks: Sequence[str] = (),
) -> EventType:
    """Reject what can be decided without the calendar. Returns the parsed event type."""
    kind = parse_event_type(event_type)
    if kind not in entry.accepts:
        raise EventNotAcceptedError(
            f"service {entry.id} does not accept {kind.value!r}; it accepts {', '.join(sorted(entry.accepts))}",
            source=f"catalog {entry.origin}, service {entry.id} {entry.source.cite()}",
        )
    occurred_at = require_aware(occurred_at, "occurred_at")
    if occurred_at > require_aware(now) + CLOCK_SKEW_TOLERANCE:
        raise FutureEventError(
            f"occurred_at {occurred_at.isoformat()} is in the future (now {require_aware(now).isoformat()})",
            source="README.md, How a request runs: occurred_at is never in the future",
        )
    closed = [e for e in log if e.type in CLOSING_EVENTS]
    if closed:
        raise EventNotAllowedError(
            f"the request is closed ({closed[0].type.value} at {closed[0].occurred_at.isoformat()}); no more events",
            rule="event.request_closed",
        )
    if kind is EventType.SERVICE_COMPLETED and ticking_clocks:
        names = {c.id: c.stop for c in entry.clocks}
        waiting = "; ".join(f"{cid} (stops on {', '.join(names[cid])})" for cid in ticking_clocks if cid in names)
        raise EventNotAllowedError(
            f"clocks still running: {waiting}; send their stop event first, or customer_cancelled",
            rule="event.completion_with_running_clocks",
        )
    for window in entry.windows:
        if window.kind is WindowKind.FORBIDDEN_AFTER and window.event is kind and not window.advisory:
            marks = window.reference.events
            earlier = sorted((e for e in log if e.type in marks and e.occurred_at <= occurred_at), key=_key)
            if earlier:
                raise CustomerWindowError(
                    f"{window.description} ({earlier[0].type.value} at {earlier[0].occurred_at.isoformat()})",
                    rule=f"customer_window.{window.id}",
                    source=_cite(window, entry),
                )
    return kind


def _key(event: RecordedEvent) -> tuple[datetime, int]:
    return event.sort_key


def _cite(window: CustomerWindow, entry: ServiceEntry) -> str:
    return f"{window.source.cite()} (catalog {entry.id})"


def _instant_of(event: RecordedEvent, field: str | None) -> datetime | None:
    if field is None:
        return event.occurred_at
    value: Any = event.data.get(field)
    if value is None:
        return None
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return require_aware(instant, f"data.{field}")


def _subject_instant(window: CustomerWindow, subject: RecordedEvent) -> datetime | None:
    """The instant the window judges: the event's own time, or the instant in its data field.

    Without that field a within-after window falls back to the event's own time (a visit is never
    earlier than its booking, so a booking past the limit is a visit past it); a lead-time window
    cannot judge and is skipped.
    """
    instant = _instant_of(subject, window.event_field)
    if instant is None and window.kind is WindowKind.WITHIN_AFTER:
        return subject.occurred_at
    return instant


def _window_limit(window: CustomerWindow, reference: datetime, calendar: WorkingCalendar) -> datetime:
    """The latest allowed instant for the window's event, given the reference instant."""
    assert window.duration is not None
    measure = window_measure(window.duration, calendar)
    if window.kind is WindowKind.LEAD_TIME:
        return measure.latest_before(reference, window.cutoff)
    return measure.due(reference).due_at


def _pairs(window: CustomerWindow, events: Sequence[RecordedEvent]) -> list[tuple[RecordedEvent, RecordedEvent]]:
    """(subject, reference in force for it): the latest reference at or before it, else the latest after."""
    ordered = sorted(events, key=_key)
    references = [e for e in ordered if e.type in window.reference.events]
    pairs = []
    for subject in (e for e in ordered if e.type is window.event):
        before = [r for r in references if r.sort_key <= subject.sort_key]
        after = [r for r in references if r.sort_key > subject.sort_key]
        if before or after:
            pairs.append((subject, before[-1] if before else after[-1]))
    return pairs


def _late(
    window: CustomerWindow, subject: RecordedEvent, reference: RecordedEvent, calendar: WorkingCalendar
) -> tuple[datetime, datetime] | None:
    """(subject instant, limit) when the subject breaks the window; None when it keeps it or cannot be judged."""
    if window.kind is WindowKind.FORBIDDEN_AFTER:
        if reference.sort_key <= subject.sort_key:
            return subject.occurred_at, reference.occurred_at
        return None
    ref_at = _instant_of(reference, window.reference.field)
    subject_at = _subject_instant(window, subject)
    if ref_at is None or subject_at is None:
        return None
    limit = _window_limit(window, ref_at, calendar)
    return (subject_at, limit) if subject_at > limit else None


def check_customer_windows(
    entry: ServiceEntry, log: Sequence[RecordedEvent], new_event: RecordedEvent, calendar: WorkingCalendar
) -> None:
    """Raise `CustomerWindowError` if `new_event` completes a pair that breaks a window.

    Advisory windows never raise (see `advisories`); forbidden-after windows are `precheck_event`'s.
    """
    events = [*log, new_event]
    for window in entry.windows:
        if not window.needs_calendar or window.advisory:
            continue
        if new_event.type is not window.event and new_event.type not in window.reference.events:
            continue
        for subject, reference in _pairs(window, events):
            if subject is not new_event and reference is not new_event:
                continue
            late = _late(window, subject, reference, calendar)
            if late is not None:
                at, limit = late
                raise CustomerWindowError(
                    f"{window.description}: {subject.type.value} at {at.isoformat()} "
                    f"is after the limit {limit.isoformat()}",
                    rule=f"customer_window.{window.id}",
                    source=_cite(window, entry),
                )


def advisories(entry: ServiceEntry, events: Sequence[RecordedEvent], calendar: WorkingCalendar) -> list[Advisory]:
    """The advisory windows the request's log does not keep, in the order of the late events.

    Pure and total: it never raises for a late event (the manual only recommends), so the request
    can show "applied 2 days before the planned purchase; the manual asks for 4" with its source.
    """
    found = []
    for window in entry.windows:
        if not window.advisory:
            continue
        for subject, reference in _pairs(window, events):
            late = _late(window, subject, reference, calendar)
            if late is None:
                continue
            at, limit = late
            found.append(
                Advisory(
                    rule=f"customer_window.{window.id}",
                    message=f"{window.description}: {subject.type.value} at {at.isoformat()} "
                    f"is after the recommended {limit.isoformat()}",
                    source=_cite(window, entry),
                    event_seq=subject.seq,
                    at=at,
                    limit=limit,
                )
            )
    return sorted(found, key=lambda a: (a.at, a.event_seq, a.rule))
