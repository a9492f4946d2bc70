"""Opening a request with its past events in one call (moving requests over from a spreadsheet):
every event is checked in order as if it had been sent then, so the first clock plan already holds
the outcomes the events imply (no breach recorded and then corrected)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sla.calendar.working import WorkingCalendar
from sla.catalog.model import ServiceEntry
from sla.engine.clocks import compute_clocks
from sla.engine.model import TICKING_STATES, RecordedEvent
from sla.engine.rules import check_customer_windows, precheck_event
from sla.errors import SlaError
from sla.event_data import check_event_data
from sla.events import EventType


@dataclass(frozen=True)
class PastEvent:
    type: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def check_backfill(
    entry: ServiceEntry, opened_at: datetime, events: Sequence[PastEvent], calendar: WorkingCalendar, now: datetime
) -> list[RecordedEvent]:
    """The log the request would have: raises the first broken rule, naming the event (events[i])."""
    log = [RecordedEvent(EventType.REQUEST_OPENED, opened_at, 1)]
    for index, event in enumerate(events):
        try:
            check_event_data(event.type, event.data)
            ticking: list[str] = []
            if event.type == EventType.SERVICE_COMPLETED:  # the only event the running clocks can refuse
                ticking = [v.clock_id for v in compute_clocks(entry, log, calendar, now) if v.state in TICKING_STATES]
            kind = precheck_event(entry, log, event.type, event.occurred_at, now, ticking)
            record = RecordedEvent(kind, event.occurred_at, len(log) + 1, data=event.data)
            check_customer_windows(entry, log, record, calendar)
        except SlaError as error:
            raise type(error)(
                f"events[{index}] ({event.type}): {error.message}", rule=error.rule, source=error.source
            ) from None
        log.append(record)
    return log
