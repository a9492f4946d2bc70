"""Customer windows read from the manuals: refusals name the rule and its lines; advisories never refuse.

Instants worked by hand from the lines cited (DESIGN.md, the working-day rule; Civil Code arts. 201-203).
"""

from __future__ import annotations

from datetime import UTC

import pytest

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from sla.engine import RecordedEvent, advisories
from sla.engine.rules import check_customer_windows, precheck_event
from sla.errors import CustomerWindowError
from sla.events import EventType
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()


def refuse_cancel(service: str, events: list[RecordedEvent], when=None) -> CustomerWindowError:  # type: ignore[no-untyped-def]
    when = when or at(2025, 11, 20, 10)
    with pytest.raises(CustomerWindowError) as error:
        precheck_event(CATALOG.get(service), events, "customer_cancelled", when, when)
    return error.value


def allows_cancel(service: str, events: list[RecordedEvent]) -> None:
    when = at(2025, 11, 20, 10)
    assert (
        precheck_event(CATALOG.get(service), events, "customer_cancelled", when, when) is EventType.CUSTOMER_CANCELLED
    )


# -- "no cancellation after booking" -------------------------------------------------------------
def test_ping_an_cancer_admission_cannot_be_cancelled_once_the_customer_confirmed_the_booking() -> None:
    # [001:L69] 住院安排服务，客户预约并确认服务后不能取消该服务: the slip alone is no confirmed booking.
    slip = log(("request_opened", at(2025, 11, 3, 9)), ("admission_notice_issued", at(2025, 11, 3, 10)))
    allows_cancel("pingan_health.cancer.admission", slip)
    confirmed = [*slip, RecordedEvent(EventType.CUSTOMER_CONFIRMED, at(2025, 11, 5, 10), 3)]
    error = refuse_cancel("pingan_health.cancer.admission", confirmed)
    assert error.rule == "customer_window.no_cancel_after_booking_confirmed"
    assert error.source == "[001:L69] (catalog pingan_health.cancer.admission)"
    assert "customer_confirmed at 2025-11-05T10:00:00+08:00" in error.message
    # A confirmed admission cannot exist without the customer's confirmation: it locks too.
    booked = [*slip, RecordedEvent(EventType.HOSPITAL_CONFIRMED, at(2025, 11, 10, 10), 3)]
    assert refuse_cancel("pingan_health.cancer.admission", booked).rule.endswith("no_cancel_after_booking_confirmed")


def test_ping_an_cancer_second_opinion_cannot_be_cancelled_once_confirmed() -> None:
    # [001:L69] 国内第二诊疗意见服务，客户预约并确认服务后不能取消该服务，如若取消，则视同该次服务已完成.
    materials = log(("request_opened", at(2025, 11, 3, 9)), ("materials_complete", at(2025, 11, 4, 10)))
    allows_cancel("pingan_health.cancer.second_opinion", materials)
    confirmed = [*materials, RecordedEvent(EventType.CUSTOMER_CONFIRMED, at(2025, 11, 4, 11), 3)]
    error = refuse_cancel("pingan_health.cancer.second_opinion", confirmed)
    assert error.source is not None and error.source.startswith("[001:L69]")


@pytest.mark.parametrize("service", ["zhongan.green_channel.inpatient", "zhongan.green_channel.surgery"])
def test_zhongan_admission_and_surgery_cannot_be_cancelled_once_booked(service: str) -> None:
    # [003:L55] 住院及手术安排服务，客户预约服务后不能取消服务: the booking is accepted when the review starts the
    # service (eligibility_approved, [003:L69]) or the hospital confirms; before the review it can be withdrawn.
    applied = log(("request_opened", at(2025, 11, 3, 9)), ("materials_complete", at(2025, 11, 3, 10)))
    allows_cancel(service, applied)
    approved = [*applied, RecordedEvent(EventType.ELIGIBILITY_APPROVED, at(2025, 11, 4, 10), 3)]
    error = refuse_cancel(service, approved)
    assert error.rule == "customer_window.no_cancel_after_booking"
    assert error.source == f"[003:L55] (catalog {service})"
    assert "customer_no_show" in error.message  # what to record instead: 视同该次服务已完成


@pytest.mark.parametrize("service", ["zhongan.second_opinion.domestic", "zhongan.second_opinion.overseas"])
def test_zhongan_second_opinion_cannot_be_cancelled_once_the_customer_accepted_it(service: str) -> None:
    # [003:L1613] 服务落实前将取得客户确认，客户接受服务后，就无法取消服务.
    approved = log(("materials_complete", at(2025, 11, 3, 10)), ("eligibility_approved", at(2025, 11, 4, 10)))
    allows_cancel(service, approved)
    accepted = [*approved, RecordedEvent(EventType.CUSTOMER_CONFIRMED, at(2025, 11, 5, 10), 3)]
    assert refuse_cancel(service, accepted).source == f"[003:L1613] (catalog {service})"


def test_zhongan_mdt_cannot_be_cancelled_once_the_customer_confirmed_the_start() -> None:
    # [003:L2627] 客户确认开启服务后...此服务预约成功后无法取消.
    approved = log(("materials_complete", at(2025, 11, 3, 10)), ("eligibility_approved", at(2025, 11, 4, 10)))
    allows_cancel("zhongan.mdt", approved)
    started = [*approved, RecordedEvent(EventType.CUSTOMER_CONFIRMED, at(2025, 11, 6, 10), 3)]
    error = refuse_cancel("zhongan.mdt", started)
    assert (error.rule, error.source) == (
        "customer_window.no_cancel_after_booking",
        "[003:L2627] (catalog zhongan.mdt)",
    )


def test_the_annex_two_green_channel_cannot_be_cancelled_once_the_booking_is_accepted() -> None:
    # [001:L541-542] 以上服务，客户预约后不能取消.
    received = log(("request_opened", at(2025, 11, 3, 9)), ("materials_received", at(2025, 11, 3, 11)))
    allows_cancel("unnamed.ci_inpatient.green_channel", received)
    accepted = [*received, RecordedEvent(EventType.ELIGIBILITY_APPROVED, at(2025, 11, 4, 10), 3)]
    assert refuse_cancel("unnamed.ci_inpatient.green_channel", accepted).source == (
        "[001:L541-542] (catalog unnamed.ci_inpatient.green_channel)"
    )


@pytest.mark.parametrize(
    ("service", "source"),
    [
        ("axa.green_channel.outpatient", "[004:75]"),
        ("axa.green_channel.inpatient", "[004:75]"),
        ("axa.zhuoyue.green_channel.outpatient", "[002:89]"),
        ("axa.zhuoyue.green_channel.inpatient", "[002:89]"),
    ],
)
def test_axa_green_channels_refuse_a_reschedule_once_the_application_succeeded(service: str, source: str) -> None:
    # [004:75] 申请成功后不允许改期或取消; [002:89] 申请成功后不接受改期或取消.
    entry = CATALOG.get(service)
    when = at(2025, 11, 5, 10)
    assert precheck_event(entry, [], "customer_rescheduled", when, when) is EventType.CUSTOMER_RESCHEDULED
    approved = log(("eligibility_approved", at(2025, 11, 4, 10)))
    with pytest.raises(CustomerWindowError) as error:
        precheck_event(entry, approved, "customer_rescheduled", when, when)
    assert error.value.rule == "customer_window.no_reschedule_after_acceptance"
    assert error.value.source is not None and error.value.source.startswith(source)


# -- windows that need the calendar ---------------------------------------------------------------
AIDE = CATALOG.get("zhongan.inpatient_nursing_aide")


def test_a_nursing_aide_change_needs_twelve_hours_notice_before_the_agreed_time() -> None:
    # [003:L3340] 如需变更已约定的服务时间或服务内容，被保险人需提前12小时通知: agreed Mon 2025-11-10 08:00
    # -> a change by Sun 11-09 20:00 (hours ignore rest days).
    agreed = log(("expert_confirmed", at(2025, 11, 7, 10), {"appointment_at": "2025-11-10T08:00:00+08:00"}))
    check_customer_windows(AIDE, agreed, RecordedEvent(EventType.CUSTOMER_RESCHEDULED, at(2025, 11, 9, 20), 2), CAL)
    late = RecordedEvent(EventType.CUSTOMER_RESCHEDULED, at(2025, 11, 9, 20, 1), 2)
    with pytest.raises(CustomerWindowError, match="limit 2025-11-09T20:00:00") as error:
        check_customer_windows(AIDE, agreed, late, CAL)
    assert error.value.rule == "customer_window.change_twelve_hours_ahead"
    assert error.value.source == "[003:L3340, L3576] (catalog zhongan.inpatient_nursing_aide)"


def test_a_new_agreed_time_never_rejudges_the_notice_that_asked_for_it() -> None:
    # [003:L3340]: the notice of Sat 11-08 10:00 was on time for the agreed Mon 11-10 08:00. The new time it
    # asked for, Sat 11-08 18:00, is only 8 h after the notice, yet the vendor's confirmation of it is fine:
    # each change is judged against the time agreed when it was asked.
    agreed = log(
        ("expert_confirmed", at(2025, 11, 7, 10), {"appointment_at": "2025-11-10T08:00:00+08:00"}),
        ("customer_rescheduled", at(2025, 11, 8, 10)),
    )
    again = RecordedEvent(
        EventType.EXPERT_CONFIRMED, at(2025, 11, 8, 10, 5), 3, data={"appointment_at": "2025-11-08T18:00:00+08:00"}
    )
    check_customer_windows(AIDE, agreed, again, CAL)


def test_home_nursing_after_general_surgery_is_used_within_one_calendar_month_of_discharge() -> None:
    # [003:L1117] 一般住院手术：限出院后1个月内使用. Discharged Fri 2025-10-31: November has no 31st, so the
    # month ends on its last day 11-30 (art. 202), a Sunday -> Mon 12-01 (art. 203) -> limit 12-02 00:00.
    entry = CATALOG.get("zhongan.home_nursing")
    discharged = log(("patient_discharged", at(2025, 10, 31, 10)))
    in_time = RecordedEvent(
        EventType.EXPERT_CONFIRMED, at(2025, 11, 20, 10), 2, data={"appointment_at": "2025-12-01T15:00:00+08:00"}
    )
    check_customer_windows(entry, discharged, in_time, CAL)
    late = RecordedEvent(
        EventType.EXPERT_CONFIRMED, at(2025, 11, 20, 10), 2, data={"appointment_at": "2025-12-02T09:00:00+08:00"}
    )
    with pytest.raises(CustomerWindowError, match="limit 2025-12-02T00:00:00") as error:
        check_customer_windows(entry, discharged, late, CAL)
    assert error.value.rule == "customer_window.use_within_one_month_of_discharge"
    # Without an appointment_at the confirmation's own time is judged: a visit is never before its booking.
    undated = RecordedEvent(EventType.EXPERT_CONFIRMED, at(2025, 12, 2, 9), 2)
    with pytest.raises(CustomerWindowError):
        check_customer_windows(entry, discharged, undated, CAL)


def test_home_nursing_after_ci_surgery_has_a_year_and_no_fifteen_day_booking_limit() -> None:
    # [003:L1117] 重大疾病住院手术：...限在出院后一年内使用; the 15-day booking limit is the general surgery's.
    # Discharged 2025-02-28: 12 months -> 2026-02-28, a Saturday but a make-up working day (2026 Spring
    # Festival notice) -> limit 2026-03-01 00:00.
    entry = CATALOG.get("zhongan.home_nursing.critical_illness")
    discharged = RecordedEvent(EventType.PATIENT_DISCHARGED, at(2025, 2, 28, 10), 1)
    check_customer_windows(entry, [discharged], RecordedEvent(EventType.REQUEST_OPENED, at(2025, 4, 10, 9), 2), CAL)
    visit = RecordedEvent(
        EventType.EXPERT_CONFIRMED, at(2026, 2, 20, 9), 3, data={"appointment_at": "2026-02-28T16:00:00+08:00"}
    )
    check_customer_windows(entry, [discharged], visit, CAL)
    late = RecordedEvent(
        EventType.EXPERT_CONFIRMED, at(2026, 2, 20, 9), 3, data={"appointment_at": "2026-03-02T09:00:00+08:00"}
    )
    with pytest.raises(CustomerWindowError, match="limit 2026-03-01T00:00:00"):
        check_customer_windows(entry, [discharged], late, CAL)


def test_anxin_insured_attends_within_fourteen_working_days_of_the_booking_result() -> None:
    # [001:L125] 2个工作日内给予回复预约结果，被保险人于14个工作日内...就诊. Booking result Thu 2025-09-25 10:00:
    # 9-26 (1), 9-28 (Sun, make-up, 2), 9-29, 9-30 (4), 10-09, 10-10 (6), 10-11 (Sat, make-up, 7), 10-13..17 (12),
    # 10-20, 10-21 (14) -> limit 10-22 00:00 +08:00.
    entry = CATALOG.get("anxin.cancer_inpatient_green_channel")
    booked = log(("eligibility_approved", at(2025, 9, 24, 10)), ("hospital_confirmed", at(2025, 9, 25, 10)))
    check_customer_windows(entry, booked, RecordedEvent(EventType.PATIENT_ADMITTED, at(2025, 10, 21, 16), 3), CAL)
    late = RecordedEvent(EventType.PATIENT_ADMITTED, at(2025, 10, 22, 9), 3)
    with pytest.raises(CustomerWindowError, match="limit 2025-10-22T00:00:00") as error:
        check_customer_windows(entry, booked, late, CAL)
    assert error.value.source == "[001:L125] (catalog anxin.cancer_inpatient_green_channel)"


# -- advisories ------------------------------------------------------------------------------------
SPECIAL_DRUG = CATALOG.get("axa.zhuoyue.special_drug")


def purchase_log(opened_at):  # type: ignore[no-untyped-def]
    return log(
        ("request_opened", opened_at),
        ("materials_complete", at(2025, 10, 7, 12), {"planned_purchase_at": "2025-10-10T10:00:00+08:00"}),
    )


def test_applying_four_days_before_the_planned_purchase_is_advice_shown_on_the_request_never_a_refusal() -> None:
    # [002:344] 请您在计划购药前4天申请本服务: purchase planned Fri 2025-10-10 -> apply by Mon 10-06 24:00
    # (calendar days; a lead time counts back whole days from the purchase date).
    assert advisories(SPECIAL_DRUG, purchase_log(at(2025, 10, 6, 20)), CAL) == []
    events = purchase_log(at(2025, 10, 7, 9))
    [advice] = advisories(SPECIAL_DRUG, events, CAL)
    assert advice.rule == "customer_window.apply_four_days_before_purchase"
    assert advice.source == "[002:344] (catalog axa.zhuoyue.special_drug)"
    assert (advice.event_seq, advice.at, advice.limit) == (1, at(2025, 10, 7, 9), at(2025, 10, 7))
    # The late application is still accepted: the calendar check never refuses an advisory window.
    check_customer_windows(SPECIAL_DRUG, events[:1], events[1], CAL)


def test_the_aide_should_be_asked_for_seventy_two_hours_ahead_as_advice() -> None:
    # [003:L3385-3386] 建议被保险人尽可能提前72小时申请服务: needed Mon 2025-11-10 08:00 -> apply by Fri 11-07 08:00.
    def events(opened):  # type: ignore[no-untyped-def]
        return log(
            ("request_opened", opened),
            ("materials_complete", at(2025, 11, 8, 12), {"planned_service_at": "2025-11-10T08:00:00+08:00"}),
        )

    assert advisories(AIDE, events(at(2025, 11, 7, 8)), CAL) == []
    [advice] = advisories(AIDE, events(at(2025, 11, 8, 9)), CAL)
    assert (advice.rule, advice.limit) == ("customer_window.apply_72_hours_ahead", at(2025, 11, 7, 8))


def test_a_discharge_notice_on_the_discharge_day_itself_is_flagged_as_advice() -> None:
    # [001:L566] 客户出院前(至少提早一天)通知我司: discharged Fri 2025-10-10 10:00 -> notice by 10-09 24:00.
    entry = CATALOG.get("unnamed.ci_inpatient.direct_pay")
    # The notice is its own event since v3 (discharge_notified, at the instant it was given).
    ahead = log(("discharge_notified", at(2025, 10, 9, 18)), ("patient_discharged", at(2025, 10, 10, 10)))
    assert advisories(entry, ahead, CAL) == []
    same_day = log(("discharge_notified", at(2025, 10, 10, 7)), ("patient_discharged", at(2025, 10, 10, 10)))
    [advice] = advisories(entry, same_day, CAL)
    assert (advice.at, advice.limit) == (at(2025, 10, 10, 7), at(2025, 10, 10))
    # No notice at all: no advice to show (the settlement clock says it was never owed).
    assert advisories(entry, log(("patient_discharged", at(2025, 10, 10, 10))), CAL) == []


def test_advisories_come_back_in_shanghai_time_whatever_offset_the_events_arrive_in() -> None:
    events = [
        RecordedEvent(e.type, e.occurred_at.astimezone(UTC), e.seq, data=e.data)
        for e in purchase_log(at(2025, 10, 7, 9))
    ]
    [advice] = advisories(SPECIAL_DRUG, events, CAL)
    assert advice.at.utcoffset() == advice.limit.utcoffset() == at(2025, 1, 1).utcoffset()


def test_an_application_is_judged_against_the_planned_admission_as_last_announced() -> None:
    # [004:131] 入院前5个工作日预约. Applied Mon 2025-11-03 10:00; the first notice plans Mon 11-17 (5 working
    # days before: 11-10 -> apply by 11-10 24:00, kept). A second notice moves the admission to Fri 11-07:
    # 5 working days before it is Fri 10-31 -> the application of 11-03 is late, and the notice is refused.
    entry = CATALOG.get("axa.advance_payment")
    first = log(
        ("request_opened", at(2025, 11, 3, 10)),
        ("admission_notice_issued", at(2025, 11, 3, 11), {"planned_admission_at": "2025-11-17T08:00:00+08:00"}),
    )
    check_customer_windows(entry, first[:1], first[1], CAL)
    moved = RecordedEvent(
        EventType.ADMISSION_NOTICE_ISSUED,
        at(2025, 11, 4, 9),
        3,
        data={"planned_admission_at": "2025-11-07T08:00:00+08:00"},
    )
    with pytest.raises(CustomerWindowError, match="limit 2025-11-01T00:00:00"):
        check_customer_windows(entry, first, moved, CAL)
