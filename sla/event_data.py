"""What an event's `data` may carry: exactly the keys the domain reads, each with its type and bounds.

The domain reads three kinds of values from event data, and nothing else:
- instants, which the catalog's customer windows judge (`field:` and `event_field:` in catalog/*.yaml,
  read by `sla.engine.rules`), e.g. the visit's `appointment_at` on `hospital_confirmed`;
- `instance`, the occurrence a stop or exempt event of a per-occurrence clock closes (`sla.engine.clocks`);
- `note`, free text for people, on any event.

A key the domain never reads is a typo or a misunderstanding, and an unbounded value travels in every
workflow payload and read-model write of the request after it: one garbage instant or a value nested
200 levels deep used to fail every later workflow task. So the data is closed per event type and every
value is a scalar of bounded size. The API checks a body with this module and the workflow's update
validator checks the same, so a bad event never reaches history whichever way it was sent.
`tests/api/test_hostile.py` holds the table to the catalog: every key a window or clock reads is here, and
nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from sla.calendar.timeutil import SHANGHAI
from sla.errors import SlaError
from sla.events import SYSTEM_EVENTS, EventType

# Every instant the service takes, from a body, a query or event data: what a business date can be.
EARLIEST = datetime(2000, 1, 1, tzinfo=SHANGHAI)
LATEST = datetime(2101, 1, 1, tzinfo=SHANGHAI)  # exclusive: 2100-12-31 is the last day
# Offsets in use on Earth run from -12:00 to +14:00; anything beyond is a bug in the sender (PostgreSQL
# refuses offsets past ±15:59 outright).
MOST_WEST, MOST_EAST = timedelta(hours=-12), timedelta(hours=14)
INSTANT_RULE = (
    "an RFC 3339 instant with an offset, e.g. 2025-09-26T14:00:00+08:00, "
    "between 2000-01-01 and 2100-12-31 (+08:00), offset from -12:00 to +14:00"
)
# What Python's datetime.fromisoformat also reads (the engine parses stored data with it): hence "Z" only.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")  # a bare date or a naive time

MAX_NOTE_CHARS = 2000
MAX_INSTANCE = 1000  # occurrences of one clock in one request; the manuals' quotas are far below
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and carriage return are text

NOTE = "note"
INSTANCE = "instance"
# Instant keys and the events that carry them: the catalog's window fields.
INSTANT_KEYS: dict[str, frozenset[EventType]] = {
    "appointment_at": frozenset(
        {EventType.CUSTOMER_CONFIRMED, EventType.EXPERT_CONFIRMED, EventType.HOSPITAL_CONFIRMED}
    ),
    "planned_admission_at": frozenset({EventType.ADMISSION_NOTICE_ISSUED}),
    "planned_purchase_at": frozenset({EventType.MATERIALS_COMPLETE}),
    "planned_service_at": frozenset({EventType.MATERIALS_COMPLETE}),
    "planned_treatment_at": frozenset({EventType.MATERIALS_COMPLETE}),
}
# The stop and exempt events of per-occurrence clocks: they may name the occurrence they close.
INSTANCE_EVENTS = frozenset(
    {
        EventType.CUSTOMER_CONFIRMED,
        EventType.ELIGIBILITY_APPROVED,
        EventType.ELIGIBILITY_REJECTED,
        EventType.MATERIALS_COMPLETE,
        EventType.MATERIALS_INCOMPLETE,
        EventType.PAYMENT_ADVANCED,
        EventType.REJECTION_NOTIFIED,
    }
)


class EventDataError(SlaError, ValueError):
    """An event's data breaks its schema: a key the event does not take, a wrong type, a value out of bounds."""

    rule = "event.data_invalid"


def accepted_keys(event_type: str) -> tuple[str, ...]:
    """The data keys `event_type` takes, sorted; only `note` for a name that is no event a coordinator
    sends (the precheck refuses those with its own rule)."""
    kind = _sendable(event_type)
    if kind is None:
        return (NOTE,)
    keys = {NOTE, *(key for key, events in INSTANT_KEYS.items() if kind in events)}
    if kind in INSTANCE_EVENTS:
        keys.add(INSTANCE)
    return tuple(sorted(keys))


def check_event_data(event_type: str, data: Mapping[str, object]) -> None:
    """Raise `EventDataError` naming the first key that breaks `event_type`'s schema. Never echoes a
    value: it may be huge, or text that cannot even be encoded."""
    keys = accepted_keys(event_type)
    for key, value in data.items():
        if key not in keys:
            raise EventDataError(
                f"data.{_shown(key)}: {event_type if _sendable(event_type) else 'this event'} takes no such key; "
                f"it takes {', '.join(keys)}",
                source="sla/event_data.py: the keys the domain reads",
            )
        problem = _instant_problem(value) if key in INSTANT_KEYS else _VALUE_CHECKS[key](value)
        if problem:
            raise EventDataError(f"data.{key}: {problem}", source="sla/event_data.py: the keys the domain reads")


def parse_instant(value: object) -> datetime:
    """`value` as a business instant; ValueError saying what is accepted otherwise (never the value)."""
    problem = _instant_problem(value)
    if problem:
        raise ValueError(problem)
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


def instant_in_range(value: datetime) -> bool:
    """Whether an aware datetime lies in the business range with a real offset."""
    offset = value.utcoffset()
    return offset is not None and MOST_WEST <= offset <= MOST_EAST and EARLIEST <= value < LATEST


def _instant_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be {INSTANT_RULE}; got {_kind(value)}"
    if not _RFC3339.fullmatch(value):
        naive = _LOCAL.fullmatch(value)
        return f"must be {INSTANT_RULE}{'; this one has no offset' if naive else ''}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:  # e.g. month 13 or 23:59:60
        return f"must be {INSTANT_RULE}; this is no calendar instant"
    if not instant_in_range(parsed):
        return f"must be {INSTANT_RULE}; this one is outside"
    return None


def _instance_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number from 1 to {MAX_INSTANCE} (the occurrence to close); got {_kind(value)}"
    if not 1 <= value <= MAX_INSTANCE:
        return f"must be a whole number from 1 to {MAX_INSTANCE} (the occurrence to close)"
    return None


def _note_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be text of at most {MAX_NOTE_CHARS} characters; got {_kind(value)}"
    if len(value) > MAX_NOTE_CHARS:
        return f"must be text of at most {MAX_NOTE_CHARS} characters; got {len(value)}"
    if not _encodable(value) or _CONTROL.search(value):
        return "must be Unicode text without control characters (a lone UTF-16 surrogate is none)"
    return None


_VALUE_CHECKS = {NOTE: _note_problem, INSTANCE: _instance_problem}


def _sendable(event_type: str) -> EventType | None:
    try:
        kind = EventType(event_type)
    except ValueError:
        return None
    return None if kind in SYSTEM_EVENTS else kind


def _kind(value: object) -> str:
    """What a JSON value is, for a message: never the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(key: str) -> str:
    """A key as a message may show it: escaped when it cannot be encoded, cut when long."""
    shown = key if _encodable(key) else key.encode("utf-8", "backslashreplace").decode("ascii")
    return shown if len(shown) <= 40 else f"{shown[:40]}..."
