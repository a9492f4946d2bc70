"""Whether an event may be recorded: checks without the calendar, then customer windows with it.

`precheck_event` needs no calendar, so a workflow's update validator can call it and reject a bad
event before anything reaches history. `check_customer_windows` needs the calendar and runs in an
activity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sla.calendar.timeutil import SHANGHAI, end_of_day, local_date, require_aware
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import CustomerWindow, DurationUnit, ServiceEntry, WindowKind
from sla.engine.model import RecordedEvent
from sla.errors import (
    CustomerWindowError,
    EventNotAcceptedError,
    EventNotAllowedError,
    FutureEventError,
    UnknownEventError,
)
from sla.events import CLOSING_EVENTS, SYSTEM_EVENTS, EventType

# Coordinators' clocks drift; an event stamped a little ahead of the server is not "in the future".
CLOCK_SKEW_TOLERANCE = timedelta(minutes=2)


def parse_event_type(name: str) -> EventType:
    try:
        event_type = EventType(name)
    except ValueError:
        raise UnknownEventError(
            f"unknown event {name!r}; known events: {', '.join(e.value for e in EventType if e not in SYSTEM_EVENTS)}",
            source="DESIGN.md, Events",
        ) from None
    if event_type in SYSTEM_EVENTS:
        raise EventNotAllowedError(f"{name!r} is recorded by the system, not sent", source="DESIGN.md, Events")
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
            source="DESIGN.md, Events: occurred_at is never in the future",
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
        if window.kind is WindowKind.FORBIDDEN_AFTER and window.event is kind:
            earlier = [e for e in log if e.type is window.reference.event and e.occurred_at <= occurred_at]
            if earlier:
                raise CustomerWindowError(
                    f"{window.description} ({window.reference.event.value} at {earlier[0].occurred_at.isoformat()})",
                    rule=f"customer_window.{window.id}",
                    source=f"{window.source.cite()} (catalog {entry.id})",
                )
    return kind


def _instant_of(event: RecordedEvent, field: str | None) -> datetime | None:
    if field is None:
        return event.occurred_at
    value: Any = event.data.get(field)
    if value is None:
        return None
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return require_aware(instant, f"data.{field}")


def _window_limit(window: CustomerWindow, reference: datetime, calendar: WorkingCalendar) -> datetime:
    """The latest allowed instant for the window's event, given the reference instant."""
    assert window.duration is not None
    amount, unit = window.duration.amount, window.duration.unit
    if window.kind is WindowKind.LEAD_TIME:
        if unit is DurationUnit.HOURS:
            return reference - timedelta(hours=amount)
        if unit is DurationUnit.WORKING_DAYS:
            day = calendar.add_working_days(local_date(reference), -amount)
        else:
            day = local_date(reference) - timedelta(days=amount)
        if window.cutoff:
            return datetime.combine(day, time.fromisoformat(window.cutoff), SHANGHAI)
        return end_of_day(day)
    if unit is DurationUnit.HOURS:
        return reference + timedelta(hours=amount)
    if unit is DurationUnit.WORKING_DAYS:
        return calendar.due_working_days(reference, amount).due_at
    return calendar.due_calendar_days(reference, amount).due_at


def check_customer_windows(
    entry: ServiceEntry, log: Sequence[RecordedEvent], new_event: RecordedEvent, calendar: WorkingCalendar
) -> None:
    """Raise `CustomerWindowError` if `new_event` completes a pair that breaks a window."""
    for window in entry.windows:
        if not window.needs_calendar:
            continue
        if new_event.type is window.event:
            subjects = [new_event]
            references = [e for e in log if e.type is window.reference.event]
        elif new_event.type is window.reference.event:
            subjects = [e for e in log if e.type is window.event]
            references = [new_event]
        else:
            continue
        for reference in references[-1:]:
            ref_at = _instant_of(reference, window.reference.field)
            if ref_at is None:
                continue
            limit = _window_limit(window, ref_at, calendar)
            for subject in subjects:
                if subject.occurred_at > limit:
                    raise CustomerWindowError(
                        f"{window.description}: {subject.type.value} at {subject.occurred_at.isoformat()} "
                        f"is after the limit {limit.isoformat()}",
                        rule=f"customer_window.{window.id}",
                        source=f"{window.source.cite()} (catalog {entry.id})",
                    )
