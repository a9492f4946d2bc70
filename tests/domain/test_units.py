"""Duration units as strategies (sla/units): one class per unit, chosen in one place, and each unit's
arithmetic worked by hand (README.md, Working days: the rule; Civil Code arts. 201-203)."""

from __future__ import annotations

from datetime import UTC, timedelta
from fractions import Fraction

import pytest

from adapters.calendar_files import default_calendar
from sla.catalog.model import Duration, WarnThreshold
from sla.units import (
    CLOCK_UNITS,
    WINDOW_UNITS,
    ClockMeasure,
    DurationUnit,
    WindowMeasure,
    clock_measure,
    measure_class,
    measure_of,
    window_measure,
)
from tests.helpers import at

CAL = default_calendar()
DAY = timedelta(days=1)


def clock(unit: DurationUnit, amount: int) -> ClockMeasure:
    return clock_measure(Duration(unit, amount), CAL)


def window(unit: DurationUnit, amount: int) -> WindowMeasure:
    return window_measure(Duration(unit, amount), CAL)


# -- one strategy per unit ----------------------------------------------------------------------
def test_every_unit_has_its_own_strategy() -> None:
    strategies = {unit: measure_class(unit) for unit in DurationUnit}
    assert all(strategy.unit is unit for unit, strategy in strategies.items())
    assert len(set(strategies.values())) == len(DurationUnit)


def test_the_units_clocks_and_windows_may_use_follow_from_the_strategies() -> None:
    assert DurationUnit.SAME_DAY in CLOCK_UNITS - WINDOW_UNITS
    assert DurationUnit.CALENDAR_MONTHS in WINDOW_UNITS - CLOCK_UNITS
    both = CLOCK_UNITS & WINDOW_UNITS
    assert both == {DurationUnit.WORKING_DAYS, DurationUnit.CALENDAR_DAYS, DurationUnit.HOURS}


def test_a_clock_refuses_a_window_unit_and_a_window_a_clock_unit() -> None:
    with pytest.raises(ValueError, match="calendar_months is a window unit"):
        clock(DurationUnit.CALENDAR_MONTHS, 1)
    with pytest.raises(ValueError, match="same_day is a clock unit"):
        window(DurationUnit.SAME_DAY, 1)


def test_a_strategy_refuses_a_duration_of_another_unit() -> None:
    with pytest.raises(ValueError, match="a hours measure given a working_days duration"):
        measure_class(DurationUnit.HOURS)(Duration(DurationUnit.WORKING_DAYS, 1), CAL)


def test_each_unit_reads_as_a_person_writes_it() -> None:
    assert Duration(DurationUnit.WORKING_DAYS, 10).describe() == "10 working days"
    assert Duration(DurationUnit.CALENDAR_DAYS, 1).describe() == "1 calendar day"
    assert Duration(DurationUnit.HOURS, 48).describe() == "48 hours"
    assert Duration(DurationUnit.SAME_DAY, 1).describe() == "same day (by 24:00)"
    assert Duration(DurationUnit.CALENDAR_MONTHS, 12).describe() == "12 calendar months"


def test_only_same_day_limits_its_amount_and_its_warnings() -> None:
    same_day = measure_class(DurationUnit.SAME_DAY)
    assert same_day.amount_refusal(2) == "same_day is 1 (by 24:00 of the start's own date), got 2"
    assert same_day.amount_refusal(1) is None and same_day.warn_after_refusal
    others = [measure_class(u) for u in DurationUnit if u is not DurationUnit.SAME_DAY]
    assert all(s.amount_refusal(30) is None and s.warn_after_refusal is None for s in others)


# -- the due rule, per unit ---------------------------------------------------------------------
def test_working_days_end_at_24_00_of_the_nth_working_day_after_the_start_date() -> None:
    # README.md's example: Fri 2025-09-26 14:00 + 10 working days: the make-up 9-28 and 10-11 count, the
    # holiday week not.
    deadline = measure_of(Duration(DurationUnit.WORKING_DAYS, 10), CAL).due(at(2025, 9, 26, 14))
    assert deadline.due_at == at(2025, 10, 17) and not deadline.provisional


def test_calendar_days_ending_on_a_rest_day_run_to_the_next_working_day() -> None:
    # Mon 9-29 + 3 days = Thu 10-02, a holiday: art. 203 moves the end to 24:00 of Thu 10-09.
    assert measure_of(Duration(DurationUnit.CALENDAR_DAYS, 3), CAL).due(at(2025, 9, 29, 10)).due_at == at(2025, 10, 10)


def test_an_audit_line_reads_working_days_to_four_decimals() -> None:
    measure = clock(DurationUnit.WORKING_DAYS, 2)
    start = at(2026, 12, 1, 10)  # a Tuesday
    assert measure.working_days_text_between(start, start + timedelta(hours=1)) == "0.0417 working days"
    assert measure.working_days_text_between(start, start + DAY) == "1 working day"
    assert measure.working_days_text_between(start, start) == "0 working days"


def test_hours_are_exact_and_never_provisional() -> None:
    deadline = measure_of(Duration(DurationUnit.HOURS, 48), CAL).due(at(2031, 9, 30, 18, 30))
    assert deadline.due_at == at(2031, 10, 2, 18, 30) and not deadline.provisional


def test_same_day_ends_at_24_00_of_the_start_date() -> None:
    deadline = measure_of(Duration(DurationUnit.SAME_DAY, 1), CAL).due(at(2025, 10, 1, 9))  # a holiday too
    assert deadline.due_at == at(2025, 10, 2) and not deadline.provisional


def test_calendar_months_take_the_corresponding_date_or_the_last_of_a_shorter_month() -> None:
    months = measure_of(Duration(DurationUnit.CALENDAR_MONTHS, 1), CAL)
    assert months.due(at(2025, 1, 31, 9)).due_at == at(2025, 3, 1)  # Fri 2-28: no 2-31 (art. 202)
    # 8-01 + 2 months = 10-01, a holiday: the next working day is 10-09 (art. 203).
    assert measure_of(Duration(DurationUnit.CALENDAR_MONTHS, 2), CAL).due(at(2025, 8, 1, 9)).due_at == at(2025, 10, 10)


def test_a_deadline_in_a_year_without_data_is_provisional() -> None:
    for unit in (DurationUnit.WORKING_DAYS, DurationUnit.CALENDAR_DAYS, DurationUnit.CALENDAR_MONTHS):
        assert measure_of(Duration(unit, 3), CAL).due(at(2031, 3, 6, 9)).provisional, unit


def test_only_the_days_a_deadline_asks_about_make_it_provisional() -> None:
    # 48 hours never ask the calendar: exact across the end of the loaded data (2026) into 2027.
    assert not clock(DurationUnit.HOURS, 48).add(at(2026, 12, 31, 10), timedelta(hours=48))[1]
    # 1 working day from Wed 2003-12-31 (a year never loaded): counting starts on 2004-01-01, a holiday,
    # so the deadline is 24:00 of Fri 01-02 and rests on 2004's data only.
    deadline = measure_of(Duration(DurationUnit.WORKING_DAYS, 1), CAL).due(at(2003, 12, 31, 23))
    assert deadline.due_at == at(2004, 1, 3) and not deadline.provisional
    # 3 calendar days from Mon 2026-12-28 end on Thu 12-31, a working day of 2026: 2027 is not asked.
    deadline = measure_of(Duration(DurationUnit.CALENDAR_DAYS, 3), CAL).due(at(2026, 12, 28, 9))
    assert deadline.due_at == at(2027, 1, 1) and not deadline.provisional
    # 4 calendar days end on Fri 2027-01-01: whether it is a rest day is 2027's data, not loaded.
    assert measure_of(Duration(DurationUnit.CALENDAR_DAYS, 4), CAL).due(at(2026, 12, 28, 9)).provisional


STARTS = [
    *(at(2025, 9, 24) + timedelta(hours=7 * n, minutes=13) for n in range(60)),  # across the National Day week
    # Where loaded data ends (2026-12-31, 2027 not loaded) and begins (2004-01-01, 2003 never loaded).
    *(at(2026, 12, 20) + timedelta(hours=5 * n, minutes=7) for n in range(80)),
    *(at(2003, 12, 29) + timedelta(hours=5 * n, minutes=7) for n in range(30)),
]


@pytest.mark.parametrize("unit", sorted(CLOCK_UNITS))
def test_the_due_rule_is_where_a_fresh_clock_of_the_unit_falls_due(unit: DurationUnit) -> None:
    # The engine starts a cycle at max(origin, start) with budget_from(that) and adds the budget:
    # the public due rule (GET /v1/calendar/due) must name the same instant for every unit.
    for amount in (1,) if unit is DurationUnit.SAME_DAY else (1, 3, 10):
        measure = clock(unit, amount)
        for start in STARTS:
            origin = max(measure.origin(start), start)
            due_at, provisional = measure.add(origin, measure.budget_from(origin))
            deadline = measure.due(start)
            assert (deadline.due_at, deadline.provisional) == (due_at, provisional), (unit, amount, start)


# -- lead times (customer windows) --------------------------------------------------------------
def test_lead_times_count_back_from_the_reference_and_end_at_the_cut_off() -> None:
    visit = at(2025, 10, 9, 10)  # Thu, the first working day after the National Day week
    # 2 working days before 10-09: 9-30 is the first, 9-29 the second; by 16:00 of it, or by its 24:00.
    assert window(DurationUnit.WORKING_DAYS, 2).latest_before(visit, "16:00") == at(2025, 9, 29, 16)
    assert window(DurationUnit.WORKING_DAYS, 2).latest_before(visit, None) == at(2025, 9, 30)
    assert window(DurationUnit.CALENDAR_DAYS, 3).latest_before(visit, None) == at(2025, 10, 7)
    assert window(DurationUnit.CALENDAR_MONTHS, 1).latest_before(at(2025, 3, 31, 9), None) == at(2025, 3, 1)
    # An hours lead time is an instant: no cut-off applies.
    assert window(DurationUnit.HOURS, 5).latest_before(visit, "16:00") == at(2025, 10, 9, 5)


# -- clocks: elapsed, remaining, warnings, reports ----------------------------------------------
def test_remaining_time_is_working_time_for_working_days_and_wall_time_otherwise() -> None:
    now, due_at = at(2025, 11, 21, 12), at(2025, 11, 25)  # Fri noon to the end of Mon 11-24
    assert clock(DurationUnit.WORKING_DAYS, 2).remaining(now, due_at) == timedelta(hours=36)
    assert clock(DurationUnit.CALENDAR_DAYS, 2).remaining(now, due_at) == timedelta(days=3, hours=12)
    assert clock(DurationUnit.WORKING_DAYS, 2).remaining(at(2025, 11, 25, 6), due_at) == -timedelta(hours=6)
    assert clock(DurationUnit.HOURS, 2).remaining(at(2025, 11, 25, 6), due_at) == -timedelta(hours=6)


def test_a_warning_after_an_amount_is_that_amount_of_the_clocks_own_unit() -> None:
    after = WarnThreshold(Fraction(1, 2), Duration(DurationUnit.WORKING_DAYS, 5))
    assert clock(DurationUnit.WORKING_DAYS, 10).mark(after, 10 * DAY) == 5 * DAY
    share = WarnThreshold(Fraction(2, 3))
    assert clock(DurationUnit.HOURS, 10).mark(share, timedelta(hours=10)) == timedelta(hours=6, minutes=40)


def test_same_day_budgets_the_rest_of_the_start_date_and_counts_from_the_start() -> None:
    same_day = clock(DurationUnit.SAME_DAY, 1)
    assert same_day.origin(at(2025, 11, 21, 15)) == at(2025, 11, 21, 15)
    assert same_day.budget_from(at(2025, 11, 21, 15)) == timedelta(hours=9)


def test_working_days_used_is_the_clocks_own_measure_or_the_calendars_working_days() -> None:
    start, end = at(2025, 11, 21, 12), at(2025, 11, 25)
    assert clock(DurationUnit.WORKING_DAYS, 2).working_days_used(timedelta(hours=36), start, end) == 1.5
    assert clock(DurationUnit.CALENDAR_DAYS, 2).working_days_used(timedelta(days=3, hours=12), start, end) == 1.5
    assert clock(DurationUnit.HOURS, 48).working_days_used(timedelta(hours=1), None, end) == 0.0
    assert clock(DurationUnit.WORKING_DAYS, 2).describe_used(timedelta(hours=36)) == "1.5 working days"
    assert clock(DurationUnit.HOURS, 48).describe_used(timedelta(hours=36)) == "P1DT12H elapsed"


def test_a_deadline_is_an_instant_of_the_start_whatever_offset_it_arrives_in() -> None:
    utc = at(2025, 9, 26, 14).astimezone(UTC)  # 06:00Z: the same Friday in Shanghai
    assert measure_of(Duration(DurationUnit.WORKING_DAYS, 10), CAL).due(utc).due_at == at(2025, 10, 17)
