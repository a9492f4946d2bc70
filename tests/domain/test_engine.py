"""The clock engine: one scenario per clock shape in the catalog, due instants worked by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.calendar_files import build_calendar, default_calendar, load_overlay_file
from adapters.catalog_files import default_catalog
from sla.calendar.timeutil import iso_duration
from sla.engine import ClockState, Outcome, RecordedEvent, compute_clocks, outcome_changes
from sla.engine.rules import check_customer_windows, precheck_event
from sla.errors import (
    CustomerWindowError,
    EventNotAcceptedError,
    EventNotAllowedError,
    FutureEventError,
    UnknownEventError,
)
from sla.events import EventType
from tests.data import OVERLAY_2027
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()


def clocks(service: str, events: list[RecordedEvent], now):  # type: ignore[no-untyped-def]
    return {v.clock_id: v for v in compute_clocks(CATALOG.get(service), events, CAL, now)}


AXA_INPATIENT = log(
    ("request_opened", at(2025, 9, 25, 9)),
    ("admission_notice_issued", at(2025, 9, 24)),
    ("eligibility_approved", at(2025, 9, 26, 15)),
    ("materials_incomplete", at(2025, 9, 30, 10)),
    ("materials_complete", at(2025, 10, 9, 10)),
)

# DESIGN.md's example for [004:67]: started 9-26 15:00, paused 9-30 10:00, restarted 10-09 10:00.
AXA_INPATIENT_RESTART = (
    ("request_opened", at(2025, 9, 25, 9)),
    ("admission_notice_issued", at(2025, 9, 24)),
    ("materials_complete", at(2025, 9, 25, 10)),
    ("eligibility_approved", at(2025, 9, 26, 15)),
    ("materials_incomplete", at(2025, 9, 30, 10)),
    ("materials_complete", at(2025, 10, 9, 10)),
)


def test_axa_green_channel_inpatient_starts_when_the_materials_are_complete_and_is_met() -> None:
    # [004:67] 审核通过且客户提供完整资料及住院通知单开具之日起10个工作日: the latest of the notice (9-24),
    # audit passed (9-26 15:00) and complete materials (Thu 10-09 10:00) -> 10-09 10:00. The incomplete
    # materials of 9-30 come before the start and change nothing. 10 working days: 10-10, 10-11 (Sat,
    # make-up), 10-13, 14, 15, 16, 17, 20, 21, 22 -> due 2025-10-23 00:00 +08:00.
    events = [*AXA_INPATIENT, RecordedEvent(EventType.HOSPITAL_CONFIRMED, at(2025, 10, 22, 18), 6)]
    view = clocks("axa.green_channel.inpatient", events, at(2025, 10, 25))["arrange_admission"]
    assert view.state is ClockState.MET and view.outcome is Outcome.MET
    assert view.started_at == at(2025, 10, 9, 10)
    assert view.due_at == at(2025, 10, 23)
    assert view.stopped_at == at(2025, 10, 22, 18)
    assert view.cycle == 1
    assert [e.kind for e in view.timeline] == ["started", "warning", "warning", "stopped"]
    # warnings: 1/2 after 5 working days (10-10, 11, 13, 14, 15) -> 10-16 00:00; 4/5 after 8 -> 10-21 00:00
    assert [(t.fraction, t.at, t.fired) for t in view.thresholds] == [
        (0.5, at(2025, 10, 16), True),
        (0.8, at(2025, 10, 21), True),
    ]
    assert view.working_days_used == pytest.approx(9.75)  # 10-10..10-21 (9 days) + 18 h on 10-22


def test_axa_green_channel_inpatient_restarts_when_materials_turn_out_incomplete_after_the_start() -> None:
    # [004:67] 如因被保险人提供资料不齐全导致服务延迟，本服务时效更改为客户提供完整相关资料起10个工作日内安排.
    # Materials complete 9-25 10:00, notice 9-24, audit passed Fri 9-26 15:00 -> start 9-26 15:00, due
    # 10-17 00:00 (DESIGN.md's example). Found incomplete Tue 9-30 10:00: paused, no due instant.
    # Complete again Thu 10-09 10:00: the full 10 working days again -> due 2025-10-23 00:00.
    events = log(
        *AXA_INPATIENT_RESTART,
        ("hospital_confirmed", at(2025, 10, 22, 18)),
    )
    running = clocks("axa.green_channel.inpatient", events[:4], at(2025, 9, 29))["arrange_admission"]
    assert (running.started_at, running.due_at) == (at(2025, 9, 26, 15), at(2025, 10, 17))
    paused = clocks("axa.green_channel.inpatient", events[:5], at(2025, 10, 5))["arrange_admission"]
    assert paused.state is ClockState.PAUSED and paused.due_at is None and paused.paused_at == at(2025, 9, 30, 10)
    view = clocks("axa.green_channel.inpatient", events, at(2025, 10, 25))["arrange_admission"]
    assert view.state is ClockState.MET and view.cycle == 2
    assert view.started_at == at(2025, 10, 9, 10)  # the current cycle's start; the first stays in the timeline
    assert view.due_at == at(2025, 10, 23)
    assert [e.kind for e in view.timeline] == ["started", "paused", "restarted", "warning", "warning", "stopped"]
    assert view.timeline[0].at == at(2025, 9, 26, 15)


def test_a_running_clock_wakes_at_its_next_warning_and_breaches_at_due() -> None:
    running = clocks("axa.green_channel.inpatient", AXA_INPATIENT, at(2025, 10, 12))["arrange_admission"]
    assert running.state is ClockState.RUNNING
    assert running.next_wake_at == at(2025, 10, 16)
    # Sat 10-11 is a make-up working day: 10-10 and 10-11 fully used, 12 h of 10-12 (Sunday) not counted.
    assert running.elapsed_seconds == 2 * 86400
    breached = clocks("axa.green_channel.inpatient", AXA_INPATIENT, at(2025, 10, 23))["arrange_admission"]
    assert breached.state is ClockState.BREACHED and breached.breached_at == at(2025, 10, 23)
    assert breached.next_wake_at is None


def test_a_clock_stopped_after_due_stays_breached_and_says_how_late() -> None:
    events = [*AXA_INPATIENT, RecordedEvent(EventType.HOSPITAL_CONFIRMED, at(2025, 10, 24, 10), 6)]
    view = clocks("axa.green_channel.inpatient", events, at(2025, 10, 25))["arrange_admission"]
    assert view.state is ClockState.BREACHED and view.breached_at == at(2025, 10, 23)
    assert view.stopped_at == at(2025, 10, 24, 10)
    assert view.late_by_seconds == 34 * 3600
    assert not view.is_open
    # 11 working days of the cycle (10-10 .. 10-23) plus 10 h of Fri 10-24
    assert view.elapsed_seconds == 11 * 86400 + 10 * 3600


def test_a_retroactive_event_recomputes_and_reports_the_changed_outcome() -> None:
    # Materials complete 9-25, audit passed 9-26 15:00 -> due 10-17 00:00 [004:67]; confirmed 10-20 -> breached.
    base = [e for e in AXA_INPATIENT if e.type not in (EventType.MATERIALS_INCOMPLETE, EventType.MATERIALS_COMPLETE)]
    base.append(RecordedEvent(EventType.MATERIALS_COMPLETE, at(2025, 9, 25, 10), 9))
    base.append(RecordedEvent(EventType.HOSPITAL_CONFIRMED, at(2025, 10, 20, 12), 10))
    before = clocks("axa.green_channel.inpatient", base, at(2025, 10, 21))
    assert before["arrange_admission"].outcome is Outcome.BREACHED
    # The coordinator then records, late, that materials were incomplete 9-30 and complete 10-09:
    # paused 9-30, restarted 10-09 -> due 10-23 00:00, and 10-20 12:00 is in time.
    late = [
        RecordedEvent(EventType.MATERIALS_INCOMPLETE, at(2025, 9, 30, 10), 11),
        RecordedEvent(EventType.MATERIALS_COMPLETE, at(2025, 10, 9, 10), 12),
    ]
    after = clocks("axa.green_channel.inpatient", base + late, at(2025, 10, 21))
    assert after["arrange_admission"].outcome is Outcome.MET
    changes = outcome_changes(
        {k: v.outcome for k, v in before.items()},
        {k: v.outcome for k, v in after.items()},
        "materials events received late",
    )
    assert [(c.clock_id, c.previous, c.current) for c in changes] == [
        ("arrange_admission", Outcome.BREACHED, Outcome.MET)
    ]


def test_pause_and_resume_keep_elapsed_time() -> None:
    # Arrange advance (002), 5 wd from Wed 9-24 10:00: counting starts Thu 9-25 00:00.
    # Investigation Fri 9-26 12:00 pauses after 1.5 days. Resumed Thu 10-09 09:00 with 3.5 days left:
    # 15 h on 10-09, 10-10, 10-11 (Sat, make-up), then 21 h of Mon 10-13 -> due 2025-10-13 21:00.
    events = log(
        ("materials_complete", at(2025, 9, 24, 10)),
        ("investigation_required", at(2025, 9, 26, 12)),
        ("investigation_concluded", at(2025, 10, 9, 9)),
        ("eligibility_approved", at(2025, 10, 13, 15)),
    )
    views = clocks("axa.zhuoyue.advance_payment", events, at(2025, 10, 14))
    arrange = views["arrange_advance"]
    assert arrange.due_at == at(2025, 10, 13, 21)
    assert arrange.state is ClockState.MET
    assert [e.kind for e in arrange.timeline if e.kind != "warning"] == ["started", "paused", "resumed", "stopped"]
    # Investigation 15 wd from Fri 9-26 12:00: 9-28 (Sun, make-up), 9-29, 9-30, 10-09 .. 10-23 -> 10-24 00:00.
    assert views["investigation"].due_at == at(2025, 10, 24)
    assert views["investigation"].state is ClockState.MET

    paused = clocks("axa.zhuoyue.advance_payment", events[:2], at(2025, 10, 5))["arrange_advance"]
    assert paused.state is ClockState.PAUSED
    assert paused.elapsed_seconds == int(1.5 * 86400)
    assert paused.remaining_seconds == int(3.5 * 86400)  # frozen: the working time left when it resumes
    assert paused.next_wake_at is None
    assert paused.due_at is None and paused.paused_at == at(2025, 9, 26, 12)  # no due while nothing counts
    assert [t.at for t in paused.thresholds] == [None, None]  # unknown until it resumes


def test_a_clock_started_by_the_opening_breaches_without_any_vendor_event() -> None:
    # Audit 2 wd (004) from Fri 2025-12-05 17:00: 12-08, 12-09 -> due 12-10 00:00.
    views = clocks("axa.advance_payment", log(("request_opened", at(2025, 12, 5, 17))), at(2025, 12, 12))
    assert views["audit"].due_at == at(2025, 12, 10)
    assert views["audit"].state is ClockState.BREACHED
    assert views["investigation"].state is ClockState.PENDING


def test_hours_clocks_ignore_holidays_and_meet_exactly_at_due() -> None:
    # 48 h from 2025-09-30 18:30 -> 10-02 18:30 (National Day does not matter for hours).
    # 10 wd from 9-30 18:30: 10-09, 10, 11 (Sat, make-up), 13, 14, 15, 16, 17, 20, 21 -> 10-22 00:00.
    events = log(("request_opened", at(2025, 9, 30, 18, 30)), ("customer_confirmed", at(2025, 10, 2, 18, 30)))
    views = clocks("pingan_health.green_channel.admission", events, at(2025, 10, 3))
    assert views["inform_status"].due_at == at(2025, 10, 2, 18, 30)
    assert views["inform_status"].state is ClockState.MET  # stopped at its due instant: met
    assert views["arrange_admission"].due_at == at(2025, 10, 22)


def test_calendar_days_whose_last_day_is_a_holiday_end_on_the_next_working_day() -> None:
    # Audit 1 wd from Sun 9-28 09:00 (make-up working day, not counted): day 1 = 9-29 -> due 9-30 00:00.
    # Fulfil 3 days from Mon 9-29 10:00: 9-30, 10-01, 10-02 - last day a holiday (art. 203)
    # -> 24:00 of the next working day 10-09 -> due 2025-10-10 00:00.
    events = log(
        ("materials_complete", at(2025, 9, 28, 9)),
        ("eligibility_approved", at(2025, 9, 29, 10)),
        ("drug_delivered", at(2025, 10, 9, 15)),
    )
    views = clocks("axa.zhuoyue.special_drug", events, at(2025, 10, 10))
    assert views["audit"].due_at == at(2025, 9, 30) and views["audit"].state is ClockState.MET
    assert views["fulfil"].due_at == at(2025, 10, 10) and views["fulfil"].state is ClockState.MET


def test_an_mdt_report_clock_waits_for_the_consultation_and_breaches_34_hours_late() -> None:
    # Arrange 10 wd from Mon 9-15 10:00: 9-16..9-19, 9-22..9-26, 9-28 (Sun, make-up) -> due 9-29 00:00.
    # Report 10 wd from Thu 10-09 14:00: 10-10, 10-11 (Sat), 10-13..17, 10-20, 21, 22 -> due 10-23 00:00.
    events = log(
        ("materials_complete", at(2025, 9, 15, 10)),
        ("expert_confirmed", at(2025, 9, 26, 11)),
        ("consultation_held", at(2025, 10, 9, 14)),
        ("report_issued", at(2025, 10, 24, 10)),
    )
    middle = clocks("axa.zhuoyue.mdt", events[:2], at(2025, 10, 1))
    assert middle["arrange_consultation"].state is ClockState.MET
    assert middle["arrange_consultation"].due_at == at(2025, 9, 29)
    assert middle["issue_report"].state is ClockState.PENDING
    done = clocks("axa.zhuoyue.mdt", events, at(2025, 10, 25))
    assert done["issue_report"].due_at == at(2025, 10, 23)
    assert done["issue_report"].state is ClockState.BREACHED
    assert done["issue_report"].late_by_seconds == 34 * 3600


def test_a_customer_no_show_closes_a_running_clock_without_breach() -> None:
    # 5 wd from Mon 11-03 -> due 11-11 00:00; the no-show on 11-06 comes first: exempt.
    events = log(("eligibility_approved", at(2025, 11, 3, 10)), ("customer_no_show", at(2025, 11, 6, 9)))
    view = clocks("axa.zhuoyue.green_channel.outpatient", events, at(2025, 11, 21))["arrange_outpatient"]
    assert view.state is ClockState.EXEMPT and view.outcome is Outcome.EXEMPT
    # A no-show after the due instant does not undo the breach.
    late = log(("eligibility_approved", at(2025, 11, 3, 10)), ("customer_no_show", at(2025, 11, 20, 9)))
    breached = clocks("axa.zhuoyue.green_channel.outpatient", late, at(2025, 11, 21))["arrange_outpatient"]
    assert breached.state is ClockState.BREACHED and breached.breached_at == at(2025, 11, 11)


def test_cancellation_and_completion_close_clocks_that_never_started() -> None:
    cancelled = clocks(
        "axa.zhuoyue.green_channel.outpatient", log(("customer_cancelled", at(2025, 11, 3, 10))), at(2025, 11, 4)
    )
    assert cancelled["arrange_outpatient"].state is ClockState.CANCELLED
    events = log(
        ("materials_complete", at(2025, 11, 3, 10)),
        ("expert_confirmed", at(2025, 11, 5, 10)),
        ("service_completed", at(2025, 11, 20, 10)),
    )
    completed = clocks("axa.zhuoyue.mdt", events, at(2025, 11, 21))
    assert completed["arrange_consultation"].state is ClockState.MET
    assert completed["issue_report"].state is ClockState.CANCELLED


def test_delivery_recorded_before_the_clock_started_is_met_at_start() -> None:
    events = log(
        ("eligibility_approved", at(2025, 11, 3, 10)),
        ("hospital_confirmed", at(2025, 11, 4, 10)),
        ("admission_notice_issued", at(2025, 11, 5, 10)),
    )
    view = clocks("zhongan.green_channel.inpatient", events, at(2025, 11, 6))["arrange_bed"]
    assert view.state is ClockState.MET and view.stopped_at == at(2025, 11, 5, 10)


def test_a_deadline_in_an_unloaded_year_is_provisional_until_the_year_arrives() -> None:
    events = log(("request_opened", at(2026, 12, 24, 9)))
    provisional = clocks("pingan_health.green_channel.admission", events, at(2026, 12, 25))["arrange_admission"]
    assert provisional.provisional and provisional.due_at == at(2027, 1, 8)
    with_2027 = build_calendar([load_overlay_file(OVERLAY_2027)])
    exact = compute_clocks(CATALOG.get("pingan_health.green_channel.admission"), events, with_2027, at(2026, 12, 25))
    assert not exact[1].provisional and exact[1].due_at == at(2027, 1, 9)


# -- rules on events ----------------------------------------------------------------------------
INPATIENT = CATALOG.get("axa.green_channel.inpatient")


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        ("hospital_booked", UnknownEventError, "unknown event 'hospital_booked'"),
        ("report_issued", EventNotAcceptedError, "does not accept 'report_issued'"),
        ("request_opened", EventNotAllowedError, "recorded by the system"),
    ],
)
def test_precheck_rejects_unknown_and_unaccepted_events(event: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        precheck_event(INPATIENT, [], event, at(2025, 10, 1), at(2025, 10, 2))


def test_precheck_rejects_future_events_and_events_on_a_closed_request() -> None:
    with pytest.raises(FutureEventError, match="in the future"):
        precheck_event(INPATIENT, [], "hospital_confirmed", at(2025, 10, 2, 12), at(2025, 10, 2, 11))
    closed = log(("service_completed", at(2025, 10, 1)))
    with pytest.raises(EventNotAllowedError, match="request is closed"):
        precheck_event(INPATIENT, closed, "hospital_confirmed", at(2025, 10, 2), at(2025, 10, 3))


def test_completion_is_refused_while_a_clock_runs() -> None:
    with pytest.raises(EventNotAllowedError, match="arrange_admission .*hospital_confirmed") as error:
        precheck_event(INPATIENT, [], "service_completed", at(2025, 10, 2), at(2025, 10, 3), ["arrange_admission"])
    assert error.value.rule == "event.completion_with_running_clocks"


def test_no_cancellation_after_the_application_succeeds() -> None:
    events = log(("eligibility_approved", at(2025, 10, 1)))
    with pytest.raises(CustomerWindowError, match="不允许改期或取消") as error:
        precheck_event(INPATIENT, events, "customer_cancelled", at(2025, 10, 2), at(2025, 10, 3))
    assert error.value.source == "[004:75] (catalog axa.green_channel.inpatient)"


def test_gene_test_cancellation_cut_off_is_16_00_two_working_days_before() -> None:
    # Appointment Fri 2025-10-10 09:00. Working days before it: 10-09 (1), then 9-30 (2): 10-01..08 are off.
    entry = CATALOG.get("axa.zhuoyue.gene_test")
    booked = log(("customer_confirmed", at(2025, 9, 26, 10), {"appointment_at": "2025-10-10T09:00:00+08:00"}))
    in_time = RecordedEvent(EventType.CUSTOMER_CANCELLED, at(2025, 9, 30, 15, 59), 2)
    check_customer_windows(entry, booked, in_time, CAL)
    late = RecordedEvent(EventType.CUSTOMER_CANCELLED, at(2025, 9, 30, 16, 1), 2)
    with pytest.raises(CustomerWindowError, match="limit 2025-09-30T16:00:00") as error:
        check_customer_windows(entry, booked, late, CAL)
    assert error.value.rule == "customer_window.cancel_two_working_days_before_16"
    assert error.value.source is not None and "[002:311]" in error.value.source


def test_advance_payment_must_be_requested_five_working_days_before_admission() -> None:
    # Admission Fri 2025-11-07: 5 working days before it is Fri 10-31 -> apply by 10-31 24:00.
    entry = CATALOG.get("axa.advance_payment")
    opened = log(("request_opened", at(2025, 11, 3, 10)))
    notice = RecordedEvent(
        EventType.ADMISSION_NOTICE_ISSUED,
        at(2025, 11, 3, 11),
        2,
        data={"planned_admission_at": "2025-11-07T08:00:00+08:00"},
    )
    with pytest.raises(CustomerWindowError, match="5 working days before"):
        check_customer_windows(entry, opened, notice, CAL)
    early = log(("request_opened", at(2025, 10, 31, 23)))
    check_customer_windows(entry, early, notice, CAL)


def test_home_nursing_must_be_booked_within_15_days_of_discharge() -> None:
    # Discharged 11-01; 15 days -> Sun 11-16, a rest day -> Mon 11-17, limit 11-18 00:00 (art. 203).
    entry = CATALOG.get("zhongan.home_nursing")
    discharged = RecordedEvent(EventType.PATIENT_DISCHARGED, at(2025, 11, 1, 10), 2)
    check_customer_windows(entry, log(("request_opened", at(2025, 11, 17, 23))), discharged, CAL)
    with pytest.raises(CustomerWindowError, match="within 15 days"):
        check_customer_windows(entry, log(("request_opened", at(2025, 11, 18, 9))), discharged, CAL)


def test_the_engine_sorts_by_effective_time_so_arrival_order_does_not_matter() -> None:
    forward = clocks("axa.green_channel.inpatient", AXA_INPATIENT, at(2025, 10, 20))
    shuffled = [RecordedEvent(e.type, e.occurred_at, 100 - e.seq) for e in AXA_INPATIENT]
    backward = clocks("axa.green_channel.inpatient", shuffled, at(2025, 10, 20))
    assert forward["arrange_admission"].due_at == backward["arrange_admission"].due_at == at(2025, 10, 23)


def test_every_catalog_clock_can_start_stop_and_be_met() -> None:
    """Each clock shape in the catalog, driven by its own start and stop events."""
    t0 = at(2025, 3, 3, 10)
    for entry in CATALOG:
        for spec in entry.clocks:
            events = [RecordedEvent(kind, t0 + timedelta(minutes=i), i + 1) for i, kind in enumerate(spec.start_all_of)]
            if spec.notice:  # the customer's notice the commitment depends on, well ahead
                events.append(RecordedEvent(spec.notice.event, t0 - timedelta(days=3), 0))
            events.append(RecordedEvent(spec.stop[0], t0 + timedelta(hours=1), 99))
            view = {v.clock_id: v for v in compute_clocks(entry, events, CAL, t0 + timedelta(hours=2))}[spec.id]
            assert view.state is ClockState.MET, (entry.id, spec.id, view.state)


def test_due_changes_lists_only_clocks_whose_due_or_provisional_flag_moved() -> None:
    from sla.engine.changes import due_changes

    before = {"a": (at(2027, 1, 8), True), "b": (at(2025, 10, 23), False), "c": (None, False)}
    after = [
        ("a", at(2027, 1, 9), False),
        ("b", at(2025, 10, 23), False),
        ("c", None, False),
        ("new", at(2025, 1, 1), False),
    ]
    [change] = due_changes(before, after)
    assert (change.clock_id, change.moved_by_seconds, change.old_provisional, change.new_provisional) == (
        "a",
        86400,
        True,
        False,
    )


def test_audit_lines_state_durations_in_iso_8601_and_working_days() -> None:
    # 004:67: started 9-26 15:00 (the latest of approval, materials, notice), due 10-17 00:00.
    # Paused 9-30 10:00: used 9-28 (make-up Sunday) + 9-29 + 10 h of 9-30 = 58 h of working time.
    # Restarted 10-09 10:00 (10 wd again) -> due 10-23 00:00; confirmed Sat 10-25 11:00: 2 days 11 h
    # late, of which 10-23 (Thu) and 10-24 (Fri) are working days and 10-25 (Sat) is not -> 2 working days.
    events = log(
        *AXA_INPATIENT_RESTART,
        ("hospital_confirmed", at(2025, 10, 25, 11)),
    )
    view = clocks("axa.green_channel.inpatient", events, at(2025, 10, 26))["arrange_admission"]
    details = {e.kind: e.detail for e in view.timeline}
    assert details["paused"] == "materials_incomplete: P2DT10H of P10D (2.4167 working days) used"
    assert details["stopped"] == "hospital_confirmed: delivered P2DT11H (2 working days) late"


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(0), "P0D"),
        (timedelta(seconds=5), "PT5S"),
        (timedelta(minutes=36, seconds=12), "PT36M12S"),
        (timedelta(days=1, hours=11), "P1DT11H"),
        (timedelta(days=10), "P10D"),
        (-timedelta(seconds=5), "-PT5S"),
    ],
)
def test_durations_are_written_in_iso_8601(span: timedelta, text: str) -> None:
    assert iso_duration(span) == text
