"""The Shanghai date is not the UTC date from 00:00 to 08:00 +08:00: the engine must give the same
deadlines at every hour of the day, whatever offset its instants arrive in (the read model hands
them back in UTC). Due instants worked by hand (README.md, Working days: the rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from sla.catalog.model import Duration, DurationUnit
from sla.engine import RecordedEvent, compute_clocks
from sla.events import EventType
from sla.units import clock_measure
from tests.helpers import at

CAL = default_calendar()
CATALOG = default_catalog()
HOURS = range(24)


def _events(hour: int, zone: object) -> list[RecordedEvent]:
    # AXA inpatient green channel [004:67]: 10 working days from the later of notice and approval.
    def when(*parts: int) -> datetime:
        return at(*parts).astimezone(zone)  # type: ignore[arg-type]

    return [
        RecordedEvent(EventType.REQUEST_OPENED, when(2025, 9, 25, 9), 1),
        RecordedEvent(EventType.ADMISSION_NOTICE_ISSUED, when(2025, 9, 24), 2),
        RecordedEvent(EventType.MATERIALS_COMPLETE, when(2025, 9, 25, 10), 3),
        RecordedEvent(EventType.ELIGIBILITY_APPROVED, when(2025, 9, 26, hour, 17), 4),
    ]


@pytest.mark.parametrize("hour", HOURS)
def test_a_working_day_deadline_is_24_00_whatever_the_hour_and_the_offset_it_arrives_in(hour: int) -> None:
    # Approved Fri 2025-09-26 at hour:17 local: day 1 is the make-up Sunday 9-28, then 9-29, 9-30,
    # 10-09, 10-10, 10-11 (Sat, make-up), 10-13 .. 10-16 -> due 2025-10-17 00:00 +08:00 (README.md's example).
    entry = CATALOG.get("axa.green_channel.inpatient")
    now = at(2025, 10, 1, 12)
    local = compute_clocks(entry, _events(hour, at(2025, 1, 1).tzinfo), CAL, now)
    in_utc = compute_clocks(entry, _events(hour, UTC), CAL, now.astimezone(UTC))
    assert local == in_utc
    arrange = next(v for v in local if v.clock_id == "arrange_admission")
    assert arrange.due_at == at(2025, 10, 17)
    assert arrange.started_at == at(2025, 9, 26, hour, 17)


@pytest.mark.parametrize("hour", HOURS)
def test_the_counting_origin_is_the_next_local_midnight_at_every_hour(hour: int) -> None:
    # Civil Code art. 201: a period in days starts counting at 00:00 after the start's local date.
    # 2025-12-03 hour:30 +08:00 is still 12-02 in UTC before 08:00; the origin is 12-04 00:00 either way.
    start = at(2025, 12, 3, hour, 30)
    for unit in (DurationUnit.WORKING_DAYS, DurationUnit.CALENDAR_DAYS):
        measure = clock_measure(Duration(unit, 3), CAL)
        assert measure.origin(start.astimezone(UTC)) == at(2025, 12, 4)
        # 3 working days / 3 days from Wed 12-03: 12-04, 12-05, 12-08 (Mon) / 12-04, 05, 06 (Sat: art. 203 -> Mon 12-08)
        due, provisional = measure.add(measure.origin(start.astimezone(UTC)), timedelta(days=3))
        assert due == at(2025, 12, 9)
        assert provisional is False
