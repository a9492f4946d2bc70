"""Small builders shared by the domain tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sla.engine import RecordedEvent
from sla.events import EventType

CST = timezone(timedelta(hours=8))


def at(*parts: int) -> datetime:
    """An instant in China Standard Time: at(2025, 10, 9, 10) = 2025-10-09 10:00 +08:00."""
    return datetime(*parts, tzinfo=CST)  # type: ignore[misc]


def log(*events: tuple[str, datetime] | tuple[str, datetime, dict]) -> list[RecordedEvent]:
    """A request log in the order the events were received."""
    out = []
    for seq, item in enumerate(events, start=1):
        kind, when, *data = item
        out.append(RecordedEvent(EventType(kind), when, seq, "test", data[0] if data else {}))
    return out
