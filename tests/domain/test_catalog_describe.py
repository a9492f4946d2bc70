"""The plain-words terms of each clock and customer window, generated from the catalog's fields."""

from __future__ import annotations

from fractions import Fraction

from adapters.catalog_files import default_catalog
from sla.catalog.describe import EVENT_WORDS, PARTY_WORDS, describe_clock, describe_window
from sla.catalog.model import (
    ClockSpec,
    CustomerWindow,
    Duration,
    DurationUnit,
    Party,
    Source,
    WarnThreshold,
    WindowKind,
    WindowReference,
)
from sla.events import EventType

CATALOG = default_catalog()


def _clock(**overrides: object) -> ClockSpec:
    fields: dict[str, object] = {
        "id": "arrange",
        "name_zh": "安排",
        "name_en": "Arrange",
        "party": Party.VENDOR,
        "duration": Duration(DurationUnit.WORKING_DAYS, 10),
        "start_all_of": (EventType.ELIGIBILITY_APPROVED, EventType.ADMISSION_NOTICE_ISSUED),
        "stop": (EventType.HOSPITAL_CONFIRMED,),
        "source": Source("002", "76, 84"),
        "quote": "原文",
    }
    return ClockSpec(**{**fields, **overrides})  # type: ignore[arg-type]


def test_every_event_and_party_has_words_in_both_languages() -> None:
    assert set(EVENT_WORDS) == set(EventType)
    assert set(PARTY_WORDS) == set(Party)
    assert all(w.zh and w.en for w in (*EVENT_WORDS.values(), *PARTY_WORDS.values()))


def test_a_clocks_terms_name_its_start_events_stop_party_duration_and_exemptions() -> None:
    terms = describe_clock(
        _clock(
            exempt=(EventType.CUSTOMER_NO_SHOW,),
            pause=(EventType.MATERIALS_INCOMPLETE,),
            restart=(EventType.MATERIALS_COMPLETE,),
        )
    )
    assert terms.starts.en == (
        "It starts once the approval of the service and the hospital's admission notice have all happened,"
        " at the latest of them."
    )
    assert "「审核通过、同意启动服务」与「医院开具住院通知单」" in terms.starts.zh
    assert terms.stops.en == "It is met by the hospital's confirmation of the arrangement in time; later is a breach."
    assert terms.owed_by.zh == "由服务商负责，计入服务商的履约统计。"
    assert "10个工作日" in terms.duration.zh and "10 working days" in terms.duration.en
    assert "restarts the full duration at the customer's complete materials in hand" in terms.pauses.en
    assert "「客户因本人原因未到/放弃（视同已完成）」则免责结束" in terms.exempt.zh
    assert terms.summary.en == (
        "The vendor owes the hospital's confirmation of the arrangement within 10 working days of the"
        " approval of the service and the hospital's admission notice; exempt at the customer's no-show for their"
        " own reasons (counts as used)."
    )
    assert terms.summary.zh.startswith("服务商须在「审核通过、同意启动服务」与「医院开具住院通知单」后10个工作日内做到")
    assert (terms.source, terms.quote) == ("[002:76, 84]", "原文")


def test_a_clock_owed_by_the_insurer_says_it_counts_in_the_insurers_compliance() -> None:
    terms = describe_clock(_clock(party=Party.INSURER, duration=Duration(DurationUnit.SAME_DAY, 1)))
    assert terms.owed_by.en == "Owed by the insurer: it counts in the insurer's compliance."
    assert "by 24:00 of the day of" in terms.summary.en and "当日24:00前" in terms.summary.zh


def test_a_clock_that_never_pauses_or_exempts_says_so_and_names_exact_warnings() -> None:
    after = Duration(DurationUnit.WORKING_DAYS, 5)
    terms = describe_clock(_clock(warnings=(WarnThreshold(Fraction(1, 2), after),)))
    assert terms.pauses.en == "It never pauses."
    assert terms.exempt.en.startswith("Nothing exempts it;")
    assert terms.warnings.zh == "满5个工作日时预警。"
    assert terms.warnings.en == "Warns after 5 working days."


def test_a_per_occurrence_clock_says_each_start_has_its_own_deadline() -> None:
    terms = describe_clock(_clock(start_all_of=(EventType.PAYMENT_REQUESTED,), per_occurrence=True))
    assert terms.starts.en == (
        "Every occurrence of the customer's request for a (further) payment starts a separate instance,"
        " with its own deadline."
    )
    assert terms.summary.en.endswith(", each time.")


def test_a_forbidden_window_and_a_lead_time_read_as_the_customers_rule_and_its_refusal() -> None:
    forbidden = CustomerWindow(
        id="no_cancel_after_acceptance",
        kind=WindowKind.FORBIDDEN_AFTER,
        event=EventType.CUSTOMER_CANCELLED,
        reference=WindowReference(EventType.ELIGIBILITY_APPROVED),
        description="",
        source=Source("002", "89"),
    )
    terms = describe_window(forbidden)
    assert terms.rule.en == "After the approval of the service, the customer's cancellation is no longer accepted."
    assert "customer_window.no_cancel_after_acceptance" in terms.consequence.en and "[002:89]" in terms.consequence.zh
    lead = CustomerWindow(
        id="cancel_two_working_days_before_16",
        kind=WindowKind.LEAD_TIME,
        event=EventType.CUSTOMER_CANCELLED,
        reference=WindowReference(EventType.CUSTOMER_CONFIRMED, "appointment_at"),
        description="",
        source=Source("002", "311"),
        duration=Duration(DurationUnit.WORKING_DAYS, 2),
        cutoff="16:00",
        advisory=True,
    )
    terms = describe_window(lead)
    assert "前2个工作日的16:00" in terms.rule.zh
    assert "no later than 16:00, 2 working days before the time appointment_at" in terms.rule.en
    assert terms.summary.en.endswith("(advice only).")


def test_every_clock_and_window_of_the_catalog_has_terms_in_both_languages() -> None:
    for entry in CATALOG:
        for clock in entry.clocks:
            terms = describe_clock(clock)
            assert all(w.zh and w.en for _, w in terms.aspects()), (entry.id, clock.id)
        for window in entry.windows:
            terms_w = describe_window(window)
            assert terms_w.summary.zh and terms_w.summary.en, (entry.id, window.id)


def test_every_catalog_clock_says_which_step_starts_it_and_why_in_both_languages() -> None:
    unexplained = [f"{e.id}/{c.id}" for e in CATALOG for c in e.clocks if not all(c.start_step)]
    assert unexplained == []
    terms = describe_clock(CATALOG.get("zhongan.boao_special_drug").clock("procure_drug"))
    assert "regulator" in terms.starts.en and "监管部门" in terms.starts.zh
