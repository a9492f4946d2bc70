"""The clock plan: the engine run with the current calendar, for the `advance_request` activity.

Its result is recorded in the workflow's history, so replay never touches calendar data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sla.calendar.timeutil import local_date
from sla.calendar.working import WorkingCalendar
from sla.catalog.parse import parse_pinned
from sla.engine.clocks import compute_clocks
from sla.engine.model import Advisory, ClockView, RecordedEvent
from sla.engine.rules import advisories, check_customer_windows
from store.calendar import CalendarSource

PROVISIONAL = "no official data loaded: weekends only, provisional"


@dataclass
class ClockPlan:
    clocks: list[ClockView]
    calendar_fingerprint: str
    calendar_sources: dict[str, str]  # year -> notice, for the years the deadlines touch
    advisories: list[Advisory] = field(default_factory=list)


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


class ClockPlanner:
    """Plans with the calendar as it currently stands (package data, overlay files, loaded years)."""

    def __init__(self, calendars: CalendarSource) -> None:
        self.calendars = calendars
