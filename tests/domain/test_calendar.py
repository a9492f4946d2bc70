"""The working-day calendar against chinese-calendar and against the due rule (README.md, Working days: the rule)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.calendar_files import build_calendar, default_calendar, load_overlay_file
from adapters.overlay_yaml import load_overlay_text
from sla.calendar.working import WorkingCalendar
from sla.errors import CalendarDataError, NaiveDatetimeError
from tests.data import OVERLAY_2027
from tests.helpers import CST, at

CAL = default_calendar()


def days(start: date, end: date):  # type: ignore[no-untyped-def]
    for i in range((end - start).days + 1):
        yield start + timedelta(days=i)


def reference_due(start: date, n: int) -> datetime:
    """Day by day: the n-th working day strictly after start, ending at 24:00."""
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), CST)


def test_every_day_2004_to_2026_matches_chinese_calendar() -> None:
    mismatches = [
        d for d in days(date(2004, 1, 1), date(2026, 12, 31)) if CAL.is_working_day(d) != chinese_calendar.is_workday(d)
    ]
    assert mismatches == []


def reference_is_workday(day: date) -> bool:
    """chinese-calendar where it has data; weekends only after it (the provisional rule)."""
    return chinese_calendar.is_workday(day) if day.year <= 2026 else day.weekday() < 5


def test_due_for_1_to_60_working_days_from_every_day_2024_2026_matches_day_by_day() -> None:
    wrong = []
    for start in days(date(2024, 1, 1), date(2026, 12, 31)):
        expected_day, counted = start, 0
        for n in range(1, 61):
            while counted < n:  # extend the day-by-day walk one working day at a time
                expected_day += timedelta(days=1)
                counted += reference_is_workday(expected_day)
            got = CAL.due_working_days(datetime.combine(start, datetime.min.time(), CST) + timedelta(hours=13), n)
            if got.due_at.date() != expected_day + timedelta(days=1) or got.provisional != (expected_day.year > 2026):
                wrong.append((start, n, got))
    assert wrong == []


def test_the_design_example_across_national_day_2025_is_due_on_10_17() -> None:
    # Fri 2025-09-26 14:00 + 10 working days: 9-28 (Sun, make-up), 9-29, 9-30, 10-09, 10-10,
    # 10-11 (Sat, make-up), 10-13, 10-14, 10-15, 10-16 -> due 2025-10-17 00:00 +08:00
    deadline = CAL.due_working_days(at(2025, 9, 26, 14), 10)
    assert deadline.due_at == at(2025, 10, 17)
    assert not deadline.provisional
    assert deadline.calendar_fingerprint == CAL.fingerprint


def test_a_start_on_a_makeup_sunday_is_not_counted_itself() -> None:
    # 2025-09-28 is a make-up Sunday (a working day); the start day never counts (art. 201).
    assert CAL.is_working_day(date(2025, 9, 28))
    assert CAL.due_working_days(at(2025, 9, 28, 9), 1).due_at == at(2025, 9, 30)  # day 1 = Mon 9-29


def test_a_start_inside_spring_festival_counts_from_the_first_working_day_after() -> None:
    # Spring Festival 2025: 1-28..2-04 off, 2-08 (Sat) make-up. Start 1-30 -> day 1 is 2-05.
    assert CAL.due_working_days(at(2025, 1, 30, 10), 1).due_at == at(2025, 2, 6)
    assert CAL.due_working_days(at(2025, 1, 30, 10), 4).due_at == at(2025, 2, 9)  # 2-05, 06, 07, 08 (Sat)


def test_chuxi_2024_was_a_working_day() -> None:
    # 除夕 2024-02-09 (Fri) was not a holiday in the 2024 notice.
    assert CAL.is_working_day(date(2024, 2, 9))
    assert CAL.due_working_days(at(2024, 2, 8, 12), 1).due_at == at(2024, 2, 10)


def test_a_start_on_saturday_makes_monday_day_one() -> None:
    assert CAL.due_working_days(at(2025, 11, 22, 10), 1).due_at == at(2025, 11, 25)


def test_a_deadline_crossing_into_2027_is_provisional_until_the_overlay_arrives() -> None:
    provisional = CAL.due_working_days(at(2026, 12, 24, 9), 10)
    assert provisional.provisional
    # weekends only in 2027: 12-25, 28, 29, 30, 31, 1-01, 04, 05, 06, 07 -> 2027-01-08 00:00
    assert provisional.due_at == at(2027, 1, 8)

    exact_calendar = build_calendar([load_overlay_file(OVERLAY_2027)])
    exact = exact_calendar.due_working_days(at(2026, 12, 24, 9), 10)
    assert not exact.provisional
    # test overlay: 1-01 holiday, 1-09 (Sat) make-up -> 12-25, 28, 29, 30, 31, 1-04, 05, 06, 07, 08
    assert exact.due_at == at(2027, 1, 9)
    assert exact.calendar_fingerprint != provisional.calendar_fingerprint


def test_years_far_outside_the_data_never_raise() -> None:
    assert CAL.due_working_days(at(2031, 3, 6, 9), 3).provisional
    assert CAL.due_working_days(at(2001, 3, 6, 9), 3).due_at == at(2001, 3, 10)  # Fri 3-09 is day 3


def test_calendar_days_end_at_24_00_moved_past_rest_days_by_article_203() -> None:
    # 3 days from Thu 2025-09-25: last day Sun 9-28 is a make-up working day -> stays.
    assert CAL.due_calendar_days(at(2025, 9, 25, 10), 3).due_at == at(2025, 9, 29)
    # 3 days from Mon 2025-09-29: last day Thu 10-02 is National Day -> next working day 10-09.
    assert CAL.due_calendar_days(at(2025, 9, 29, 10), 3).due_at == at(2025, 10, 10)
    # 3 days from Wed 2025-11-19: last day Sat 11-22 is a rest day -> Mon 11-24.
    assert CAL.due_calendar_days(at(2025, 11, 19, 10), 3).due_at == at(2025, 11, 25)


def test_hours_are_exact_elapsed_time() -> None:
    assert CAL.due_hours(at(2025, 9, 30, 18, 30), 48).due_at == at(2025, 10, 2, 18, 30)


def test_naive_datetimes_are_rejected_with_a_clear_error() -> None:
    with pytest.raises(NaiveDatetimeError, match="no timezone"):
        CAL.due_working_days(datetime(2025, 9, 26, 14), 10)


def test_working_time_between_counts_only_working_days() -> None:
    # Thu 10-09 10:00 -> Mon 10-13 10:00: 14h (Thu) + Fri + Sat (make-up) + 10h (Mon)
    span = CAL.working_time_between(at(2025, 10, 9, 10), at(2025, 10, 13, 10))
    assert span.length == timedelta(days=2, hours=24)
    assert CAL.working_time_between(at(2025, 10, 1), at(2025, 10, 8)).length == timedelta(0)


working_instants = st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2026, 9, 30)).map(
    lambda d: d.replace(tzinfo=CST)
)


@settings(max_examples=300, deadline=None)
@given(start=working_instants, n=st.integers(min_value=1, max_value=59))
def test_one_more_working_day_is_always_later(start: datetime, n: int) -> None:
    assert CAL.due_working_days(start, n + 1).due_at > CAL.due_working_days(start, n).due_at


@settings(max_examples=300, deadline=None)
@given(start=working_instants, n=st.integers(min_value=1, max_value=60))
def test_working_days_between_start_and_due_is_n(start: datetime, n: int) -> None:
    due = CAL.due_working_days(start, n).due_at
    last_day = (due - timedelta(seconds=1)).date()
    assert CAL.working_days_between(start.date(), last_day) == n
    assert CAL.is_working_day(last_day)


@settings(max_examples=200, deadline=None)
@given(start=working_instants, hours=st.integers(min_value=0, max_value=24 * 40))
def test_adding_working_time_is_inverse_of_measuring_it(start: datetime, hours: int) -> None:
    end, _ = CAL.add_working_time(start, timedelta(hours=hours))
    assert CAL.working_time_between(start, end).length == timedelta(hours=hours)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(2004, 1, 10), max_value=date(2030, 12, 1)), n=st.integers(min_value=1, max_value=30))
def test_going_back_n_working_days_undoes_going_forward(day: date, n: int) -> None:
    forward = CAL.add_working_days(day, n)
    back = CAL.add_working_days(forward, -n)
    expected = day if CAL.is_working_day(day) else CAL.add_working_days(day, -1)
    assert back == expected


# -- overlays ---------------------------------------------------------------------------------
GOOD = """
year: 2027
source: {title: 国务院办公厅关于2027年部分节假日安排的通知, number: 国办发明电〔2026〕1号, date: 2026-11-01}
holidays: [2027-01-01]
makeup_workdays: [2027-01-09]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("[2027-01-01]", "[2026-12-31]"), "outside 2027"),
        (GOOD.replace("[2027-01-01]", "[2027-01-09]"), "both a holiday and a make-up workday"),
        (GOOD.replace("[2027-01-09]", "[2027-01-11]"), "Saturday or Sunday"),
        (GOOD.replace("number: 国办发明电〔2026〕1号, ", "number: '', "), "source"),
        (GOOD.replace("[2027-01-01]", "[2027-13-01]"), "not a date"),
        (GOOD + "extra: 1\n", "unknown keys"),
        ("year: [", "not valid YAML"),
    ],
)
def test_bad_overlays_are_rejected_naming_the_rule(text: str, message: str) -> None:
    with pytest.raises(CalendarDataError, match=message) as error:
        load_overlay_text(text, "calendars/2027.yaml")
    assert "calendars/2027.yaml" in str(error.value)


def test_an_overlay_for_a_covered_year_overrides_the_package(tmp_path: Path) -> None:
    # An official correction: pretend 2025-10-09 became a holiday.
    data = CAL.years[2025]
    text = (
        "year: 2025\nsource: {title: correction, number: X-1, date: 2025-10-01}\n"
        f"holidays: [{', '.join(str(d) for d in sorted(data.holidays | {date(2025, 10, 9)}))}]\n"
        f"makeup_workdays: [{', '.join(str(d) for d in sorted(data.makeup_workdays))}]\n"
    )
    (tmp_path / "2025.yaml").write_text(text)
    corrected = build_calendar(overlay_dir=tmp_path)
    assert not corrected.is_working_day(date(2025, 10, 9))
    assert corrected.fingerprint != CAL.fingerprint
    assert corrected.years[2025].origin.endswith("2025.yaml")


def test_a_calendar_with_a_gap_year_is_provisional_in_the_gap() -> None:
    cal = WorkingCalendar([CAL.years[2025], load_overlay_file(OVERLAY_2027)])
    assert cal.due_working_days(at(2026, 3, 2, 9), 5).provisional
    assert not cal.due_working_days(at(2025, 3, 3, 9), 5).provisional
