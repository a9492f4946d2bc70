"""Commitments of the manuals that had no clock, and clock starts and stops corrected against their lines.

Due instants worked by hand (DESIGN.md, the working-day rule); each test cites the lines it reads.
"""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from sla.engine import ClockState, ClockView, Outcome, RecordedEvent, compute_clocks, outcome_changes
from sla.engine.changes import due_changes
from sla.engine.rules import precheck_event
from sla.errors import EventNotAllowedError
from sla.events import EventType
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()


def views(service: str, events: list[RecordedEvent], now) -> list[ClockView]:  # type: ignore[no-untyped-def]
    return compute_clocks(CATALOG.get(service), events, CAL, now)


def instances(service: str, clock_id: str, events: list[RecordedEvent], now) -> list[ClockView]:  # type: ignore[no-untyped-def]
    return [v for v in views(service, events, now) if v.clock_id == clock_id]


# -- 001:L552: one working day to say the materials are incomplete or out of scope -------------------
GREEN = "unnamed.ci_inpatient.green_channel"


def test_the_annex_two_insurer_answers_every_submission_of_materials_within_one_working_day() -> None:
    # [001:L548-552] 如资料不齐或不符合服务范围，我司会在1个工作日内通知客户. Materials received Fri 2025-09-26
    # 16:00: the first working day after is Sun 9-28 (make-up) -> due 9-29 00:00; told incomplete Sun 9-28
    # 10:00 -> met. Resubmitted Mon 9-29 09:00: a new instance, day 1 = 9-30 -> due 10-01 00:00; approved
    # only on 10-09 10:00 (after National Day): a positive verdict owes no notice [001:L552-553], so the
    # instance is exempt, not breached 8 days 10 hours late as v1 showed.
    events = log(
        ("request_opened", at(2025, 9, 26, 9)),
        ("materials_received", at(2025, 9, 26, 16)),
        ("materials_incomplete", at(2025, 9, 28, 10)),
        ("materials_received", at(2025, 9, 29, 9)),
        ("eligibility_approved", at(2025, 10, 9, 10)),
    )
    first, second = instances(GREEN, "materials_verdict", events, at(2025, 10, 10))
    assert (first.instance, first.due_at, first.state) == (1, at(2025, 9, 29), ClockState.MET)
    assert (second.instance, second.state, second.breached_at) == (2, ClockState.EXEMPT, None)
    assert second.outcome is Outcome.EXEMPT


def test_a_verdict_before_any_materials_arrived_answers_nothing() -> None:
    # A per-occurrence clock only counts stops for open instances: nothing was received, nothing is answered.
    events = log(("request_opened", at(2025, 9, 26, 9)), ("materials_incomplete", at(2025, 9, 26, 10)))
    [placeholder] = instances(GREEN, "materials_verdict", events, at(2025, 9, 27))
    assert (placeholder.instance, placeholder.state, placeholder.due_at) == (1, ClockState.PENDING, None)


# -- 001:L565: the deposit top-up by the next working day, for every top-up --------------------------
DIRECT = "unnamed.ci_inpatient.direct_pay"


def test_every_deposit_top_up_is_due_by_the_end_of_the_next_working_day() -> None:
    # [001:L565] 如需续费，客户请联系客服申请，我司在下一个工作日安排人员前往医院核实费用，及交纳押金.
    # Top-up 1 asked Mon 2025-09-29 17:00: next working day Tue 9-30 -> due 10-01 00:00; paid 9-30 15:00: met.
    # Top-up 2 asked Tue 9-30 11:00: 10-01..10-08 are the National Day holidays, next working day Thu 10-09
    # -> due 10-10 00:00; paid 10-09 16:00: met. Each payment closes the oldest open top-up.
    events = log(
        ("request_opened", at(2025, 9, 26, 9)),
        ("payment_requested", at(2025, 9, 29, 17)),
        ("payment_requested", at(2025, 9, 30, 11)),
        ("payment_advanced", at(2025, 9, 30, 15)),
        ("payment_advanced", at(2025, 10, 9, 16)),
    )
    one, two = instances(DIRECT, "deposit_top_up", events, at(2025, 10, 12))
    assert [(v.instance, v.started_at, v.due_at, v.stopped_at, v.state) for v in (one, two)] == [
        (1, at(2025, 9, 29, 17), at(2025, 10, 1), at(2025, 9, 30, 15), ClockState.MET),
        (2, at(2025, 9, 30, 11), at(2025, 10, 10), at(2025, 10, 9, 16), ClockState.MET),
    ]
    assert {v.key for v in (one, two)} == {("deposit_top_up", 1), ("deposit_top_up", 2)}


def test_a_payment_that_names_its_top_up_closes_that_one_and_the_other_breaches() -> None:
    # Same requests as above; the payment of Thu 10-09 09:00 names top-up 2 (data.instance = 2), so top-up 1
    # (due 10-01 00:00) stays open and breaches at its due instant [001:L565].
    events = log(
        ("payment_requested", at(2025, 9, 29, 17)),
        ("payment_requested", at(2025, 9, 30, 11)),
        ("payment_advanced", at(2025, 10, 9, 9), {"instance": 2}),
    )
    one, two = instances(DIRECT, "deposit_top_up", events, at(2025, 10, 9, 12))
    assert (one.state, one.breached_at, one.stopped_at) == (ClockState.BREACHED, at(2025, 10, 1), None)
    assert (two.state, two.stopped_at) == (ClockState.MET, at(2025, 10, 9, 9))
    # A payment naming an instance that does not exist closes nothing.
    unknown = [*events, RecordedEvent(EventType.PAYMENT_ADVANCED, at(2025, 10, 9, 10), 9, data={"instance": 7})]
    assert instances(DIRECT, "deposit_top_up", unknown, at(2025, 10, 9, 12))[0].stopped_at is None


def test_an_open_top_up_blocks_completion_and_cancelling_the_request_cancels_it() -> None:
    entry = CATALOG.get(DIRECT)
    events = log(("payment_requested", at(2025, 9, 29, 17)))
    [open_top_up] = instances(DIRECT, "deposit_top_up", events, at(2025, 9, 30, 9))
    assert open_top_up.state is ClockState.RUNNING
    with pytest.raises(EventNotAllowedError, match="deposit_top_up"):
        precheck_event(entry, events, "service_completed", at(2025, 9, 30, 9), at(2025, 9, 30, 9), ["deposit_top_up"])
    cancelled = [*events, RecordedEvent(EventType.CUSTOMER_CANCELLED, at(2025, 9, 30, 9), 2)]
    [top_up] = instances(DIRECT, "deposit_top_up", cancelled, at(2025, 9, 30, 10))
    assert top_up.state is ClockState.CANCELLED


# -- 001:L566-567: settlement on the discharge day ---------------------------------------------------
def test_the_discharge_settlement_is_due_at_24_00_of_the_discharge_date() -> None:
    # [001:L566-567] 我司将安排工作人员于出院日进行出院结算并收集相关理赔材料: discharged Fri 2025-10-10 10:00
    # -> due 10-11 00:00, a budget of the 14 hours left that day; materials collected 18:00 -> met. The
    # customer told of the discharge on Wed 10-08 (at least a day ahead, L566), so the settlement was owed.
    events = log(
        ("materials_complete", at(2025, 9, 30, 10)),  # the claim documents for the direct-pay decision
        ("discharge_notified", at(2025, 10, 8, 15)),
        ("patient_discharged", at(2025, 10, 10, 10)),
        ("materials_complete", at(2025, 10, 10, 18)),
    )
    [settlement] = instances(DIRECT, "discharge_settlement", events, at(2025, 10, 11, 9))
    assert (settlement.due_at, settlement.budget_seconds) == (at(2025, 10, 11), 14 * 3600)
    assert (settlement.state, settlement.stopped_at) == (ClockState.MET, at(2025, 10, 10, 18))
    # The materials of 9-30 came before the discharge: they never count for it.
    [waiting] = instances(DIRECT, "discharge_settlement", events[:3], at(2025, 10, 10, 12))
    assert waiting.state is ClockState.RUNNING and waiting.due_at == at(2025, 10, 11)


@pytest.mark.parametrize(
    ("discharged", "due"),
    [
        (at(2025, 10, 10, 23, 30), at(2025, 10, 11)),  # half an hour before midnight: still that day
        (at(2025, 10, 1, 9), at(2025, 10, 2)),  # National Day: "the same day" is not a working-day period
        (at(2025, 10, 11, 0, 0), at(2025, 10, 12)),  # 00:00 is the start of the day, not the end of the last
    ],
)
def test_a_same_day_deadline_is_the_end_of_the_events_own_local_date(discharged, due) -> None:  # type: ignore[no-untyped-def]
    # [001:L566-567] 出院日 = the discharge's own date in Asia/Shanghai, whatever the offset it arrives in.
    events = [
        RecordedEvent(EventType.DISCHARGE_NOTIFIED, (discharged - timedelta(days=2)).astimezone(UTC), 1),
        RecordedEvent(EventType.PATIENT_DISCHARGED, discharged.astimezone(UTC), 2),
    ]
    [settlement] = instances(DIRECT, "discharge_settlement", events, discharged + timedelta(minutes=1))
    assert settlement.due_at == due and settlement.due_at.utcoffset() == timedelta(hours=8)


def test_the_nursing_aides_nurse_comes_on_the_discharge_day() -> None:
    # [003:L3320] 客户出院当天，专业护士将按照与客户约定的时间前往医院...: discharged Mon 2025-11-10 11:00 ->
    # due 11-11 00:00. The nurse who came at 09:00 to help with the discharge formalities delivered it.
    entry = "zhongan.inpatient_nursing_aide"
    came = log(("follow_up_done", at(2025, 11, 10, 9)), ("patient_discharged", at(2025, 11, 10, 11)))
    [nurse] = instances(entry, "discharge_day_nurse", came, at(2025, 11, 12))
    assert (nurse.due_at, nurse.state) == (at(2025, 11, 11), ClockState.MET)
    late = log(("patient_discharged", at(2025, 11, 10, 11)), ("follow_up_done", at(2025, 11, 11, 9)))
    [nurse] = instances(entry, "discharge_day_nurse", late, at(2025, 11, 12))
    assert (nurse.state, nurse.breached_at, nurse.late_by_seconds) == (ClockState.BREACHED, at(2025, 11, 11), 9 * 3600)


# -- starts and stops corrected against their lines -------------------------------------------------
def test_an_axa_inpatient_vendor_on_time_after_late_materials_is_not_breached() -> None:
    # [004:67] 审核通过且被保险人配合提供服务要求相关资料及住院通知单开具之日起10个工作日内安排住院服务.
    # Notice and audit passed Mon 2025-11-03; the materials complete only Mon 11-10 10:00: 11-11..14 (4),
    # 11-17..21 (9), 11-24 (10) -> due 11-25 00:00. Admission arranged Mon 11-24 15:00: met. (Version 1
    # started on 11-03 and put the due at 11-18 00:00, so this vendor showed as breached.)
    events = log(
        ("admission_notice_issued", at(2025, 11, 3, 9)),
        ("eligibility_approved", at(2025, 11, 3, 10)),
        ("materials_complete", at(2025, 11, 10, 10)),
        ("hospital_confirmed", at(2025, 11, 24, 15)),
    )
    [admission] = views("axa.green_channel.inpatient", events, at(2025, 11, 26))
    assert (admission.started_at, admission.due_at) == (at(2025, 11, 10, 10), at(2025, 11, 25))
    assert admission.state is ClockState.MET
    # Before the materials the clock waits; it does not run against the vendor.
    [waiting] = views("axa.green_channel.inpatient", events[:2], at(2025, 11, 20))
    assert (waiting.state, waiting.due_at) == (ClockState.PENDING, None)


def test_japan_medical_travel_tells_the_insured_of_a_rejection_within_one_working_day() -> None:
    # [002:470] 服务商收到我司审核结果后，在1个工作日内通知您是否启动: rejected Fri 2025-12-05 17:00 ->
    # day 1 = Mon 12-08 -> due 12-09 00:00; the insured told Mon 12-08 11:00 (rejection_notified) -> met.
    events = log(
        ("materials_complete", at(2025, 12, 3, 10)),
        ("eligibility_rejected", at(2025, 12, 5, 17)),
        ("rejection_notified", at(2025, 12, 8, 11)),
    )
    byid = {v.clock_id: v for v in views("axa.zhuoyue.japan_medical", events, at(2025, 12, 10))}
    assert (byid["notify_no_start"].due_at, byid["notify_no_start"].state) == (at(2025, 12, 9), ClockState.MET)
    assert byid["notify_start"].state is ClockState.PENDING  # no approval: the start notice never began
    assert byid["complete_arrangement"].state is ClockState.EXEMPT  # the rejection exempts the 40 wd [002:462]


def test_a_zhongan_mdt_no_show_closes_the_report_clock_without_breach() -> None:
    # [003:L2610] 客户接受服务后，因本人原因未能按时就医，则视同该次服务已完成; [003:L2627] the 5 working days
    # run from the customer's confirmation: Mon 2025-11-03 10:00 -> 11-04..07, 11-10 -> due 11-11 00:00.
    events = log(("customer_confirmed", at(2025, 11, 3, 10)), ("customer_no_show", at(2025, 11, 6, 9)))
    byid = {v.clock_id: v for v in views("zhongan.mdt", events, at(2025, 11, 20))}
    assert byid["issue_report"].state is ClockState.EXEMPT


def test_corrections_and_moved_dues_are_told_per_instance_when_keyed_by_clock_and_instance() -> None:
    # [001:L565] two top-ups: a late-recorded payment dated Tue 9-30 15:00 turns top-up 1 from breached to met.
    requests = log(("payment_requested", at(2025, 9, 29, 17)), ("payment_requested", at(2025, 9, 30, 11)))
    before = instances(DIRECT, "deposit_top_up", requests, at(2025, 10, 2))
    late = RecordedEvent(EventType.PAYMENT_ADVANCED, at(2025, 9, 30, 15), 3)
    after = instances(DIRECT, "deposit_top_up", [*requests, late], at(2025, 10, 2))
    [change] = outcome_changes(
        {v.key: v.outcome for v in before}, {v.key: v.outcome for v in after}, "payment recorded late"
    )
    assert (change.clock_id, change.instance, change.previous, change.current) == (
        "deposit_top_up",
        1,
        Outcome.BREACHED,
        Outcome.MET,
    )
    assert (
        due_changes(
            {v.key: (v.due_at, v.provisional) for v in before}, [(v.key, v.due_at, v.provisional) for v in after]
        )
        == []
    )
