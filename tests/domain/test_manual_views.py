"""The view tells the truth about a clock: no due while paused, the current cycle's start, +08:00 everywhere.

Instants worked by hand (README.md, Working days: the rule).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from sla.engine import ClockState, ClockView, RecordedEvent, compute_clocks
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()
SHANGHAI = timedelta(hours=8)

# Arrange advance (002:174, 183): 5 wd from Wed 2025-09-24 10:00, counting from Thu 9-25 00:00;
# the investigation of Fri 9-26 12:00 pauses it after 1.5 working days.
ADVANCE = log(
    ("materials_complete", at(2025, 9, 24, 10)),
    ("investigation_required", at(2025, 9, 26, 12)),
    ("investigation_concluded", at(2025, 10, 9, 9)),
)


def arrange(events: list[RecordedEvent], now: datetime) -> ClockView:
    entry = CATALOG.get("axa.zhuoyue.advance_payment")
    return next(v for v in compute_clocks(entry, events, CAL, now) if v.clock_id == "arrange_advance")


def test_a_paused_clock_has_no_due_no_warning_instants_and_a_frozen_remaining_time() -> None:
    # Running before the pause: due after 5 working days 9-25, 26, 28 (Sun, make-up), 29, 30 -> 10-01 00:00;
    # half-way 2.5 wd -> 9-28 12:00 (the make-up Sunday), 4/5 = 4 wd -> 9-30 00:00.
    running = arrange(ADVANCE[:1], at(2025, 9, 26, 11))
    assert running.due_at == at(2025, 10, 1)
    assert [t.at for t in running.thresholds] == [at(2025, 9, 28, 12), at(2025, 9, 30)]
    for now in (at(2025, 9, 27), at(2025, 10, 5, 18)):
        paused = arrange(ADVANCE[:2], now)
        assert paused.state is ClockState.PAUSED
        assert paused.due_at is None and paused.next_wake_at is None and not paused.provisional
        assert paused.paused_at == at(2025, 9, 26, 12)
        assert [t.at for t in paused.thresholds] == [None, None]
        assert paused.remaining_seconds == int(3.5 * 86400)  # the same whenever it is read


def test_on_resume_the_due_and_the_warnings_come_back_from_the_remaining_time() -> None:
    # Resumed Thu 10-09 09:00 with 3.5 working days left: 15 h on 10-09, 10-10, 10-11 (Sat, make-up), then
    # 21 h of Mon 10-13 -> due 10-13 21:00. Half-way (2.5 wd used) needs 1 more: 15 h of 10-09 + 9 h of 10-10
    # -> 10-10 09:00; 4/5 (4 wd) needs 2.5 = 60 h: 15 h of 10-09, 24 h of 10-10, 21 h of 10-11 -> 10-11 21:00.
    resumed = arrange(ADVANCE, at(2025, 10, 9, 10))
    assert resumed.state is ClockState.RUNNING and resumed.paused_at is None
    assert resumed.due_at == at(2025, 10, 13, 21)
    assert [t.at for t in resumed.thresholds] == [at(2025, 10, 10, 9), at(2025, 10, 11, 21)]
    assert resumed.next_wake_at == at(2025, 10, 10, 9)


def test_after_a_restart_started_at_is_the_new_cycles_start_and_the_first_stays_in_the_timeline() -> None:
    # [004:67] restart: start 9-26 15:00 (materials 9-25, notice 9-24), incomplete 9-30, complete 10-09 10:00.
    events = log(
        ("admission_notice_issued", at(2025, 9, 24)),
        ("materials_complete", at(2025, 9, 25, 10)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
        ("materials_incomplete", at(2025, 9, 30, 10)),
        ("materials_complete", at(2025, 10, 9, 10)),
    )
    [view] = compute_clocks(CATALOG.get("axa.green_channel.inpatient"), events, CAL, at(2025, 10, 10, 10))
    assert (view.cycle, view.started_at, view.due_at) == (2, at(2025, 10, 9, 10), at(2025, 10, 23))
    assert [(e.kind, e.at) for e in view.timeline[:3]] == [
        ("started", at(2025, 9, 26, 15)),
        ("paused", at(2025, 9, 30, 10)),
        ("restarted", at(2025, 10, 9, 10)),
    ]
    # The first cycle's 2 days 10 h (the make-up Sunday 9-28, 9-29, 10 h of 9-30) are not this cycle's,
    # which counts from 10-10 00:00 (art. 201): at 10-10 10:00 it has used 10 h.
    assert view.elapsed_seconds == 10 * 3600


def _instants(view: ClockView) -> list[datetime]:
    found = [getattr(view, f.name) for f in fields(view)]
    found += [t.at for t in view.thresholds] + [e.at for e in view.timeline]
    return [v for v in found if isinstance(v, datetime)]


def test_every_instant_the_engine_returns_is_in_shanghai_time_whatever_offset_came_in() -> None:
    # Each clock of the catalog driven by its start events in UTC, paused where it can be, then stopped late;
    # every datetime in every view (the paused view included) carries +08:00.
    t0 = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)  # 09:30 +08:00
    checked = 0
    for entry in CATALOG:
        for spec in entry.clocks:
            events = [RecordedEvent(kind, t0 + timedelta(minutes=i), i + 1) for i, kind in enumerate(spec.start_all_of)]
            if spec.pause:
                events.append(RecordedEvent(spec.pause[0], t0 + timedelta(hours=2), 50))
                paused = compute_clocks(entry, events, CAL, t0 + timedelta(hours=3))
                for view in paused:
                    assert all(i.utcoffset() == SHANGHAI for i in _instants(view)), (entry.id, view.clock_id)
                events.append(RecordedEvent((spec.resume or spec.restart)[0], t0 + timedelta(days=1), 51))
            events.append(RecordedEvent(spec.stop[0], t0 + timedelta(days=60), 99))
            for view in compute_clocks(entry, events, CAL, t0 + timedelta(days=61)):
                instants = _instants(view)
                assert all(i.utcoffset() == SHANGHAI for i in instants), (entry.id, view.clock_id)
                checked += len(instants)
    assert checked > 500
