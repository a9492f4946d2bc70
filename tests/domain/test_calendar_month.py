"""The calendar month a scorecard and a month's report count in: Asia/Shanghai, and a clock due at
24:00 of the last day (stored as 00:00 of the 1st, Civil Code art. 203) is the month's, not the next."""

from __future__ import annotations

from datetime import datetime

import pytest

from sla.reports import CalendarMonth


def test_a_calendar_month_is_read_in_asia_shanghai_and_steps_across_years() -> None:
    month = CalendarMonth.parse("2026-01")
    assert month.start == datetime.fromisoformat("2026-01-01T00:00:00+08:00")
    assert month.end == datetime.fromisoformat("2026-02-01T00:00:00+08:00")
    assert [str(m) for m in month.before(2)] == ["2025-11", "2025-12"]
    assert str(month.shifted(12)) == "2027-01"
    for wrong in ("2026-1", "2026-00", "2026-13", "26-01", "2026-01-01", "0000-01"):
        with pytest.raises(ValueError):
            CalendarMonth.parse(wrong)


@pytest.mark.parametrize(
    ("due", "month"),
    [
        ("2025-11-01T00:00:00+08:00", "2025-10"),  # 24:00 on 31 October
        ("2025-11-01T00:00:01+08:00", "2025-11"),
        ("2025-10-31T16:00:00+00:00", "2025-10"),  # the same instant as the first, in UTC
        ("2025-10-31T16:30:00+00:00", "2025-11"),  # 00:30 on 1 November in Shanghai, still October in UTC
        ("2026-01-01T00:00:00+08:00", "2025-12"),
    ],
)
def test_a_clock_counts_in_the_month_its_due_instant_ends_in_shanghai(due: str, month: str) -> None:
    assert str(CalendarMonth.of_due(datetime.fromisoformat(due))) == month
