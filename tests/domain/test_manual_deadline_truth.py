"""Issue 21: clocks that started on the wrong step, blamed a vendor for a customer's missed condition, or
were missing. Each test cites the manual line that decides it and failed on the catalog before the fix.

Dates are 2025 (statutory calendar): Mon 11-03 .. Fri 11-07, Mon 11-10 .. Fri 11-14 are working days.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adapters.calendar_files import default_calendar
from adapters.catalog_files import DEFAULT_CATALOG_DIR, default_catalog
from sla.catalog.parse import parse_service
from sla.engine import ClockState, ClockView, Outcome, RecordedEvent, compute_clocks
from sla.engine.rules import precheck_event
from sla.errors import CustomerWindowError
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()
JAPAN = "axa.zhuoyue.japan_medical"
DIRECT = "unnamed.ci_inpatient.direct_pay"
GREEN = "unnamed.ci_inpatient.green_channel"


def clocks(service: str, events: list[RecordedEvent], now) -> dict[str, ClockView]:  # type: ignore[no-untyped-def]
    """The last instance of each clock, by id."""
    return {v.clock_id: v for v in compute_clocks(CATALOG.get(service), events, CAL, now)}


def instances(service: str, clock_id: str, events: list[RecordedEvent], now) -> list[ClockView]:  # type: ignore[no-untyped-def]
    return [v for v in compute_clocks(CATALOG.get(service), events, CAL, now) if v.clock_id == clock_id]


# -- 002:L470-471: the specialist starts after the start notice, never after a rejection ------------------
def test_a_rejected_japan_request_never_starts_or_breaches_the_specialist_clock() -> None:
    # [002:471] 2个工作日内安排专员 is step 5, after step 4's notice that the service starts [002:470].
    # Rejected Wed 11-05 10:00; the insured's acknowledgement of the rejection recorded (as v2 asked) as
    # customer_confirmed 15:00. v2 started assign_specialist there: due 11-08 00:00, breached by 11-20.
    events = log(
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("customer_confirmed", at(2025, 11, 5, 15)),
    )
    specialist = clocks(JAPAN, events, at(2025, 11, 20))["assign_specialist"]
    assert (specialist.state, specialist.outcome, specialist.due_at) == (ClockState.PENDING, None, None)


def test_a_japan_re_approval_owes_its_own_start_notice_and_specialist_after_it() -> None:
    # [002:470] 服务商收到我司审核结果后，在1个工作日内通知您是否启动: rejected 11-05, told 11-05 15:00 (once
    # as customer_confirmed, the v2 way, once as rejection_notified); re-approved Mon 11-10 10:00 -> the
    # start notice is due 11-12 00:00 and is not "met" by the earlier notices (v2 met it at 11-10 10:00).
    events = log(
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("customer_confirmed", at(2025, 11, 5, 15)),
        ("rejection_notified", at(2025, 11, 5, 15, 5)),
        ("eligibility_approved", at(2025, 11, 10, 10)),
        ("customer_confirmed", at(2025, 11, 11, 9)),  # told it starts
    )
    before = clocks(JAPAN, events, at(2025, 11, 10, 12))
    assert (before["notify_start"].state, before["notify_start"].due_at) == (ClockState.RUNNING, at(2025, 11, 12))
    assert before["assign_specialist"].state is ClockState.PENDING
    assert before["notify_no_start"].state is ClockState.MET  # the rejection was told in time
    # Told Tue 11-11 09:00 that it starts: the notice is met, and the specialist's 2 working days run from it
    # (11-12, 11-13 -> due 11-14 00:00) [002:471].
    after = clocks(JAPAN, events, at(2025, 11, 11, 10))
    assert after["notify_start"].state is ClockState.MET
    specialist = after["assign_specialist"]
    assert (specialist.started_at, specialist.due_at) == (at(2025, 11, 11, 9), at(2025, 11, 14))


def test_a_request_pinned_before_the_fix_keeps_the_specialist_clock_it_opened_with() -> None:
    # A request opened under v2 keeps v2's rules (its pinned document); only new requests get v3.
    current = CATALOG.pin(JAPAN).document
    v2: dict[str, Any] = copy.deepcopy(current)
    v2["version"] = 2
    for clock in v2["clocks"]:
        if clock["id"] == "assign_specialist":
            clock.update(start=["customer_confirmed"], in_order=False, exempt=[])
    pinned = parse_service(v2, "axa_002_zhuoyue.yaml")
    events = log(
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("customer_confirmed", at(2025, 11, 5, 15)),
    )
    old = {v.clock_id: v for v in compute_clocks(pinned, events, CAL, at(2025, 11, 20))}["assign_specialist"]
    assert (pinned.version, old.state) == (2, ClockState.BREACHED)
    assert CATALOG.get(JAPAN).version == 3


# -- 001:L566-567: the settlement is owed only after the customer's notice a day ahead -------------------
@pytest.mark.parametrize(
    ("notice", "state"),
    [
        (None, ClockState.EXEMPT),  # never told
        (at(2025, 11, 5, 8), ClockState.EXEMPT),  # told on the discharge day itself: late
        (at(2025, 11, 4, 23, 59), ClockState.BREACHED),  # told the day before: owed, and not settled
    ],
)
def test_the_discharge_settlement_is_owed_only_after_a_notice_at_least_a_day_ahead(notice, state) -> None:  # type: ignore[no-untyped-def]
    # [001:L566-567] 客户出院前(至少提早一天)通知我司，我司将安排工作人员于出院日进行出院结算: discharged Wed
    # 11-05 10:00; the notice is due by 11-05 00:00. Owed -> breached at 11-06 00:00 with no settlement.
    events = [("discharge_notified", notice)] if notice else []
    settled = log(*events, ("patient_discharged", at(2025, 11, 5, 10)))
    [settlement] = instances(DIRECT, "discharge_settlement", settled, at(2025, 11, 6, 1))
    assert settlement.state is state
    if state is ClockState.BREACHED:
        assert settlement.breached_at == at(2025, 11, 6)
    else:
        assert settlement.outcome is Outcome.EXEMPT and settlement.breached_at is None
        assert "never owed" in settlement.timeline[-1].detail


def test_a_notice_for_an_earlier_discharge_does_not_count_for_the_next() -> None:
    # Each discharge needs its own notice [001:L566]: told 11-03 for the 11-05 discharge; readmitted and
    # discharged again 11-12 with no new notice -> the second settlement was never owed.
    events = log(
        ("discharge_notified", at(2025, 11, 3, 9)),
        ("patient_discharged", at(2025, 11, 5, 10)),
        ("materials_complete", at(2025, 11, 5, 16)),
        ("patient_discharged", at(2025, 11, 12, 10)),
    )
    first, second = instances(DIRECT, "discharge_settlement", events, at(2025, 11, 13))
    assert (first.state, second.state) == (ClockState.MET, ClockState.EXEMPT)


# -- 001:L552: the one-working-day notice is owed only for incomplete or out-of-scope materials ----------
def test_a_positive_verdict_after_one_working_day_withdraws_the_breach_of_a_notice_nobody_owed() -> None:
    # [001:L552] 如资料不齐或不符合服务范围，我司会在1个工作日内通知客户; [001:L553] 符合绿通服务范围 -> no notice
    # is owed. Received Mon 11-03 10:00 -> due 11-05 00:00; at 11-06 it shows breached (a verdict is late,
    # it may be negative); approved Fri 11-07: never owed -> exempt, and the breach is withdrawn.
    received = log(("materials_received", at(2025, 11, 3, 10)))
    [open_] = instances(GREEN, "materials_verdict", received, at(2025, 11, 6))
    assert open_.state is ClockState.BREACHED
    approved = log(("materials_received", at(2025, 11, 3, 10)), ("eligibility_approved", at(2025, 11, 7, 10)))
    [closed] = instances(GREEN, "materials_verdict", approved, at(2025, 11, 8))
    assert (closed.state, closed.breached_at) == (ClockState.EXEMPT, None)
    # A negative verdict late is still the breach it was.
    rejected = log(("materials_received", at(2025, 11, 3, 10)), ("materials_incomplete", at(2025, 11, 7, 10)))
    [late] = instances(GREEN, "materials_verdict", rejected, at(2025, 11, 8))
    assert (late.state, late.stopped_at) == (ClockState.BREACHED, at(2025, 11, 7, 10))


# -- same-day escorts: 003:L28-30, L3138, L3791, L1039; 001:L137; 001:L346 ----------------------------------
ESCORTS = [
    ("zhongan.green_channel.expert_outpatient", "escort_on_visit_day", "consultation_held"),  # 003:L28
    ("zhongan.green_channel.exam_acceleration", "escort_on_exam_day", "consultation_held"),  # 003:L29
    ("zhongan.green_channel.inpatient", "escort_on_admission_day", "patient_admitted"),  # 003:L30
    ("zhongan.outpatient_registration", "escort_on_visit_day", "consultation_held"),  # 003:L3791
    ("zhongan.cancer_special_drug", "escort_on_visit_day", "consultation_held"),  # 003:L3138
    ("zhongan.advance_payment", "discharge_escort", "patient_discharged"),  # 003:L1039
    ("anxin.cancer_inpatient_green_channel", "escort_on_admission_day", "patient_admitted"),  # 001:L137
    ("ruitai.ci_green_channel.expert_outpatient", "escort_on_visit_day", "consultation_held"),  # 001:L346
    ("ruitai.ci_green_channel.inpatient", "escort_on_admission_day", "patient_admitted"),  # 001:L346
    ("ruitai.ci_green_channel.surgery", "escort_on_operation_day", "consultation_held"),  # 001:L346
    ("pingan_health.cancer.expert_outpatient", "escort_on_visit_day", "consultation_held"),  # 001:L39
    ("pingan_health.cancer.admission", "escort_on_admission_day", "patient_admitted"),  # 001:L47
]


@pytest.mark.parametrize(("service", "clock_id", "visit"), ESCORTS)
def test_an_escort_is_owed_by_24_00_of_the_visits_own_day(service: str, clock_id: str, visit: str) -> None:
    # Visit Mon 11-10 10:00: escorted from 09:30 that day -> met; no escort -> breached at 11-11 00:00; an
    # escort only the next day -> breached and late.
    escorted = log(("escort_provided", at(2025, 11, 10, 9, 30)), (visit, at(2025, 11, 10, 10)))
    assert clocks(service, escorted, at(2025, 11, 12))[clock_id].state is ClockState.MET
    alone = clocks(service, log((visit, at(2025, 11, 10, 10))), at(2025, 11, 11, 1))[clock_id]
    assert (alone.state, alone.breached_at) == (ClockState.BREACHED, at(2025, 11, 11))
    late = log((visit, at(2025, 11, 10, 10)), ("escort_provided", at(2025, 11, 11, 9)))
    assert clocks(service, late, at(2025, 11, 12))[clock_id].late_by_seconds == 9 * 3600
    assert CATALOG.get(service).clock(clock_id).party.value == "vendor"


@pytest.mark.parametrize(
    "service", ["zhongan.green_channel.expert_outpatient", "zhongan.green_channel.exam_acceleration"]
)
def test_an_escort_outside_first_tier_and_provincial_capital_cities_was_never_owed(service: str) -> None:
    # [003:L28-29] 一线及省会城市内的绿通定点医院由专人全程一对一陪同: the scope is in the entry's eligibility, and
    # a hospital outside it is recorded as out_of_scope, which voids the escort clock whenever it comes.
    entry = CATALOG.get(service)
    assert "一线及省会城市" in entry.eligibility
    events = log(("consultation_held", at(2025, 11, 10, 10)), ("out_of_scope", at(2025, 11, 12, 9)))
    [escort] = [c for c in entry.clocks if c.id.startswith("escort")]
    view = clocks(service, events, at(2025, 11, 13))[escort.id]
    assert (view.state, view.breached_at) == (ClockState.EXEMPT, None)
    # Known at the booking, before the visit: the clock never starts.
    early = log(("out_of_scope", at(2025, 11, 5, 9)), ("consultation_held", at(2025, 11, 10, 10)))
    view = clocks(service, early, at(2025, 11, 13))[escort.id]
    assert (view.state, view.started_at, view.due_at) == (ClockState.EXEMPT, None, None)


# -- 003:L4751, L4763: O2O same-day delivery; no return or exchange after dispatch ---------------------------
O2O = "zhongan.direct_drug_settlement.o2o"


def test_an_o2o_order_is_delivered_by_24_00_of_the_day_it_was_paid() -> None:
    # [003:L4751] O2O 模式…根据不同区域最晚当天送达: paid Mon 11-10 10:00 -> due 11-11 00:00.
    delivered = log(("order_paid", at(2025, 11, 10, 10)), ("drug_delivered", at(2025, 11, 10, 20)))
    assert clocks(O2O, delivered, at(2025, 11, 11))["deliver_same_day"].state is ClockState.MET
    waiting = clocks(O2O, log(("order_paid", at(2025, 11, 10, 10))), at(2025, 11, 11, 0, 1))["deliver_same_day"]
    assert (waiting.state, waiting.breached_at) == (ClockState.BREACHED, at(2025, 11, 11))


@pytest.mark.parametrize("service", ["zhongan.direct_drug_settlement", O2O])
def test_a_return_or_exchange_after_dispatch_is_refused_with_its_rule_and_line(service: str) -> None:
    # [003:L4763] 药品质量无问题的情况下，药品发货后不接受退换.
    entry = CATALOG.get(service)
    paid = log(("order_paid", at(2025, 11, 10, 10)))
    assert precheck_event(entry, paid, "return_requested", at(2025, 11, 10, 11), at(2025, 11, 10, 12)).value
    dispatched = log(("order_paid", at(2025, 11, 10, 10)), ("drug_dispatched", at(2025, 11, 10, 14)))
    with pytest.raises(CustomerWindowError) as refused:
        precheck_event(entry, dispatched, "return_requested", at(2025, 11, 10, 15), at(2025, 11, 10, 16))
    assert refused.value.rule == "customer_window.no_return_after_dispatch"
    assert refused.value.source is not None and "[003:L4763]" in refused.value.source


# -- 002:L294, 004:L277: the paper report is promised with the electronic one --------------------------------
@pytest.mark.parametrize("service", ["axa.zhuoyue.gene_test", "axa.gene_test"])
def test_the_paper_report_has_its_own_fifteen_working_days_from_the_sample(service: str) -> None:
    # [002:294] [004:277] 实验室收到样本后15个工作日内，出具电子版及纸质版报告: sample Mon 11-03 10:00 -> 15
    # working days 11-04 .. 11-24 -> due 11-25 00:00. The electronic report alone leaves the paper one owed.
    events = log(("sample_received", at(2025, 11, 3, 10)), ("report_issued", at(2025, 11, 10, 10)))
    byid = clocks(service, events, at(2025, 11, 26))
    assert byid["issue_report"].state is ClockState.MET
    paper = byid["issue_paper_report"]
    assert (paper.state, paper.breached_at) == (ClockState.BREACHED, at(2025, 11, 25))
    assert CATALOG.get(service).clock("issue_paper_report").party.value == "lab"


# -- 003:L1117, L1121: the reason the catalog gives for the one-year limit is what the lines say ------------
def test_the_one_year_nursing_limit_gives_l1121s_policy_year_as_its_reason() -> None:
    [window] = CATALOG.get("zhongan.home_nursing.critical_illness").windows
    # [003:L1121] 以上“一年”指一个保单年度 defines the 一年 of L1117; v1 said the note was about quotas.
    assert "L1121" in window.description and "指一个保单年度" in window.description
    readme = (DEFAULT_CATALOG_DIR / "README.md").read_text(encoding="utf-8")
    assert "the 一年 = 保单年度 note of L1121 is about quotas" not in readme


# -- the re-audit (issue 21 section 2): clocks whose start, stop or party differed from their lines ----------
def test_the_zhuoyue_advance_arrangement_is_owed_by_axas_own_staff() -> None:
    # [002:182-183] 安盛服务人员进行服务资料审核; 服务人员将审核结果告知被保险人: the 5 working days of [002:174]
    # end in AXA's own answer, so a late one is the insurer's, never the vendor's.
    entry = CATALOG.get("axa.zhuoyue.advance_payment")
    assert (entry.version, entry.clock("arrange_advance").party.value) == (2, "insurer")


def test_the_drug_discount_order_is_met_by_its_dispatch_not_the_couriers_delivery() -> None:
    # [003:L2804] 订单支付完成后1-3个工作日内安排药品发货，具体送达时间以快递签收时间为准: paid Mon 11-03 10:00 ->
    # due 11-07 00:00; dispatched Thu 11-06 16:00 -> met, whenever the courier delivers.
    service = "zhongan.drug_discount"
    events = log(("order_paid", at(2025, 11, 3, 10)), ("drug_dispatched", at(2025, 11, 6, 16)))
    ship = clocks(service, events, at(2025, 11, 10))["ship_order"]
    assert (ship.due_at, ship.state) == (at(2025, 11, 7), ClockState.MET)
    # [003:L2811] 如客户已支付药品费用后审方不通过，将退还: a failed prescription check ends it without breach.
    refused = log(("order_paid", at(2025, 11, 3, 10)), ("eligibility_rejected", at(2025, 11, 4, 10)))
    assert clocks(service, refused, at(2025, 11, 10))["ship_order"].state is ClockState.EXEMPT


def test_xintais_review_runs_from_the_receipt_of_the_documents_and_is_xintais_own() -> None:
    # [001:L490] ⑤客服人员收到资料后1个工作日内告知您审核结果: received Mon 11-03 10:00 -> due 11-05 00:00. A
    # completeness check that took until Wed 11-05 does not move it (v1 started at materials_complete).
    entry = CATALOG.get("xintai.green_channel")
    events = log(
        ("materials_received", at(2025, 11, 3, 10)),
        ("materials_complete", at(2025, 11, 5, 9)),
        ("eligibility_approved", at(2025, 11, 5, 17)),
    )
    review = clocks("xintai.green_channel", events, at(2025, 11, 6))["review"]
    assert (review.due_at, review.state) == (at(2025, 11, 5), ClockState.BREACHED)
    assert (entry.version, entry.clock("review").party.value) == (2, "insurer")


@pytest.mark.parametrize(
    ("service", "clock_id"),
    [
        ("pingan_pc.ci_green_channel", "complete_arrangement"),  # 001:L149, L163
        ("zhongan.green_channel.remote_consultation", "hold_consultation"),  # 003:L26 with the review of L69
        ("zhongan.second_opinion.domestic", "issue_opinion"),  # 003:L1603 with the review of L1620
        ("zhongan.second_opinion.overseas", "issue_opinion"),  # 003:L1604 with the review of L1620
    ],
)
def test_a_clock_counted_from_the_materials_owes_nothing_once_the_review_rejects(service: str, clock_id: str) -> None:
    # The clock runs from the complete materials, concurrent with the review that decides whether the service
    # starts at all: rejected Wed 11-05, the service never started, so no breach, even after its due.
    events = log(("materials_complete", at(2025, 11, 3, 10)), ("eligibility_rejected", at(2025, 11, 5, 10)))
    view = clocks(service, events, at(2026, 1, 5))[clock_id]
    assert (view.state, view.breached_at) == (ClockState.EXEMPT, None)
    late = log(("materials_complete", at(2025, 11, 3, 10)), ("eligibility_rejected", at(2025, 12, 29, 10)))
    assert clocks(service, late, at(2026, 1, 5))[clock_id].state is ClockState.EXEMPT  # breach withdrawn
