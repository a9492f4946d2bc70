"""The audit page's clock rows (web/timeline.py): rows per cycle, spans, markers, day kinds and names
from the calendar data, and labels that never overlap, for a 60-working-day clock and a 2-hour one;
and what else the page writes in its own way (a due instant at 24:00, a masked policy number)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest

from adapters.calendar_files import build_calendar
from sla.calendar.timeutil import SHANGHAI
from sla.policy import mask_policy_no
from web.audit_page import event_rows
from web.timefmt import due_text
from web.timeline import WIDTH, Chart, Cycle, Entry, _text_width, chart, cycles

CALENDAR = build_calendar()


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def day_info(day: date) -> tuple[str, str | None]:
    return CALENDAR.day_kind(day), CALENDAR.day_name(day)


def describe(instant: datetime, kind: str) -> str:
    return f"{instant:%m-%d %H:%M}"


def labels_overlap(drawn: Chart) -> list[tuple[str, str]]:
    """Pairs of marker labels in one lane whose extents cross."""
    extents = []
    for m in drawn.markers:
        width = _text_width(m.label)
        left = m.x if m.anchor == "start" else m.x - width
        extents.append((m.lane, left, left + width, m.label))
    return [
        (a[3], b[3])
        for i, a in enumerate(extents)
        for b in extents[i + 1 :]
        if a[0] == b[0] and a[1] < b[2] and b[1] < a[2]
    ]


# The green channel's admission clock around National Day 2025 (tests/data.py NATIONAL_DAY_RESTART).
RESTARTED = [
    Entry(at(9, 25, 9, 30), "started"),
    Entry(at(9, 29, 15), "paused"),
    Entry(at(10, 9, 10), "restarted"),
    Entry(at(10, 16), "warning"),
    Entry(at(10, 21, 16), "stopped"),
]


def test_a_restart_starts_a_new_row_and_the_pause_runs_until_it() -> None:
    first, second = cycles(RESTARTED, at(10, 23), at(10, 21, 16), now=at(12, 1))
    assert first.spans == (
        (at(9, 25, 9, 30), at(9, 29, 15), "running"),
        (at(9, 29, 15), at(10, 9, 10), "paused"),
    )
    assert [kind for _, kind in first.marks] == ["started", "paused", "restarted_here"]
    assert second.spans == ((at(10, 9, 10), at(10, 21, 16), "running"),)
    assert [kind for _, kind in second.marks] == ["restarted", "warning", "stopped", "due"]


def test_the_holiday_week_is_shaded_and_named_from_the_calendar_data() -> None:
    first, _ = cycles(RESTARTED, at(10, 23), at(10, 21, 16), now=at(12, 1))
    drawn = chart(first, day_info, describe)
    kinds = {cell.day: cell.kind for cell in drawn.days}
    assert kinds[date(2025, 9, 27)] == "rest"  # a Saturday
    assert kinds[date(2025, 9, 28)] == "makeup"  # the Sunday worked before the holiday (调休上班)
    assert all(kinds[date(2025, 10, d)] == "holiday" for d in range(1, 9))
    names = [band.text for band in drawn.bands]
    # one band for the week off, naming the Mid-autumn Festival (10-06) inside it once
    assert names == ["调休上班 国庆节 National Day", "国庆节 National Day · 中秋 Mid-autumn Festival"]
    week = drawn.bands[1]
    first_day = next(c for c in drawn.days if c.day == date(2025, 10, 1))
    assert week.x == first_day.x and week.width == pytest.approx(first_day.width * 8, abs=0.1)
    assert not drawn.hourly


def test_a_breach_draws_the_late_span_from_the_due_instant_to_the_stop() -> None:
    timeline = [
        Entry(at(9, 26, 10, 30), "started"),
        Entry(at(10, 11), "warning"),
        Entry(at(10, 15), "warning"),
        Entry(at(10, 17), "breached"),
        Entry(at(10, 20, 11), "stopped"),
    ]
    (row,) = cycles(timeline, at(10, 17), at(10, 20, 11), now=at(12, 1))
    assert row.spans[-1] == (at(10, 17), at(10, 20, 11), "late")
    assert "due" not in [kind for _, kind in row.marks]  # the breach marks the due instant itself
    drawn = chart(row, day_info, describe)
    breach = next(m for m in drawn.markers if m.kind == "breached")
    midnight_after_16th = next(c for c in drawn.days if c.day == date(2025, 10, 17)).x
    assert breach.x == pytest.approx(midnight_after_16th)
    assert labels_overlap(drawn) == []


def test_an_open_clock_runs_until_now() -> None:
    (row,) = cycles([Entry(at(10, 9, 10), "started")], at(10, 23), None, now=at(10, 14, 12))
    assert row.spans == ((at(10, 9, 10), at(10, 14, 12), "running"),)
    assert row.end == at(10, 23)  # the row reaches the due instant ahead


def test_a_sixty_working_day_clock_stays_legible() -> None:
    start = at(9, 1, 9)
    due = datetime.combine(
        CALENDAR.add_working_days(date(2025, 9, 1), 60) + timedelta(1), datetime.min.time(), SHANGHAI
    )
    timeline = [Entry(start, "started"), *(Entry(start + timedelta(days=d), "warning") for d in (40, 70, 80))]
    (row,) = cycles(timeline, due, None, now=at(11, 20))
    drawn = chart(row, day_info, describe)
    assert 85 <= len(drawn.days) <= 100
    assert all(cell.width >= 9 for cell in drawn.days)
    labelled = [cell for cell in drawn.days if cell.label]
    assert len(labelled) >= 40  # a day number at least every other day
    assert all(b.x - a.x >= 18 for a, b in itertools.pairwise(labelled))  # numbers do not collide
    assert [t.text for t in drawn.ticks][:3] == ["2025-09", "2025-10", "2025-11"]
    assert labels_overlap(drawn) == []
    assert max(m.x for m in drawn.markers) <= WIDTH


def test_a_two_hour_clock_gets_an_hour_axis() -> None:
    start = at(10, 9, 14, 10)
    timeline = [Entry(start, "started"), Entry(start + timedelta(minutes=96), "warning")]
    (row,) = cycles(timeline, start + timedelta(hours=2), None, now=start + timedelta(minutes=30))
    drawn = chart(row, day_info, describe)
    assert drawn.hourly
    assert [t.text for t in drawn.ticks] == ["10-09 13:00", "14:00", "15:00", "16:00", "17:00"]
    due = next(m for m in drawn.markers if m.kind == "due")
    started = next(m for m in drawn.markers if m.kind == "started")
    assert due.x - started.x >= 480  # two hours take about half the width
    assert labels_overlap(drawn) == []


def test_label_lanes_separate_markers_that_fall_close_together() -> None:
    start = at(10, 9, 10)
    marks = tuple((start + timedelta(minutes=m), "warning") for m in (0, 1, 2))
    row = Cycle(1, ((start, start + timedelta(hours=30), "running"),), marks, start, start + timedelta(days=20))
    drawn = chart(row, day_info, describe)
    assert sorted(m.lane for m in drawn.markers) == [0, 1, 2]
    assert drawn.height > chart(Cycle(1, row.spans, marks[:1], row.start, row.end), day_info, describe).height


def test_a_due_instant_at_midnight_reads_as_24_00_of_the_last_working_day() -> None:
    assert due_text(at(10, 23)) == "2025-10-22 24:00 +08:00 (周三)"
    assert due_text(at(10, 22, 17, 30)) == "2025-10-22 17:30 +08:00 (周三)"


def test_a_policy_number_on_a_page_shows_only_its_ends() -> None:
    assert mask_policy_no("P-PAGES-0003") == "P-********03"
    assert mask_policy_no("AB1234") == "*****4"  # too short to show both ends
    assert mask_policy_no("") == ""


def test_the_event_log_marks_a_late_record_and_the_correction_it_caused() -> None:
    pack = {
        "events": [
            {"seq": 1, "occurred_at": "2025-10-09T10:00:00+08:00", "received_at": "2025-10-09T10:00:02+08:00"},
            {"seq": 2, "occurred_at": "2025-10-22T10:00:00+08:00", "received_at": "2025-10-24T09:00:00+08:00"},
        ],
        "corrections": [{"at": "2025-10-24T09:00:00+08:00", "clock_id": "c", "previous": "breached", "current": "met"}],
    }
    on_time, late = event_rows(pack)
    assert not on_time["retroactive"] and on_time["caused"] == []
    assert late["retroactive"] and late["late_by"] == timedelta(days=1, hours=23)
    assert [(c["previous"], c["current"]) for c in late["caused"]] == [("breached", "met")]
