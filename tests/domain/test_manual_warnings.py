"""Warnings are exact: a range such as "5-10 个工作日" warns at 24:00 of the 5th working day, to the second.

Warnings are stated in the clock's own unit (`warn_after`) or as exact fractions (`warn_at`), never floats.
Instants worked by hand (DESIGN.md, the working-day rule).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog, load_catalog
from sla.catalog.model import Duration, DurationUnit
from sla.engine import ClockView, RecordedEvent, compute_clocks
from sla.errors import CatalogError
from sla.events import EventType
from tests.data import VALID_CATALOG
from tests.helpers import at, log

CAL = default_calendar()
CATALOG = default_catalog()


def computed_clock(service: str, clock_id: str, events: list[RecordedEvent], now: datetime) -> ClockView:
    return next(v for v in compute_clocks(CATALOG.get(service), events, CAL, now) if v.clock_id == clock_id)


def warnings(view: ClockView) -> list[tuple[datetime | None, str]]:
    return [(t.at, t.label) for t in view.thresholds]


def test_the_five_working_day_warning_of_a_ten_working_day_clock_is_24_00_of_the_fifth_day() -> None:
    # [002:133, 002:142] 会诊后5-10个工作日内出具书面诊疗意见报告. Consultation Thu 2025-10-09 14:00:
    # 10-10 (1), 10-11 (Sat, make-up, 2), 10-13, 14, 15 (5) -> warning 10-16 00:00; 10-16, 17, 20 (8)
    # -> 10-21 00:00; 10-21, 22 (10) -> due 10-23 00:00 +08:00.
    view = computed_clock(
        "axa.zhuoyue.mdt", "issue_report", log(("consultation_held", at(2025, 10, 9, 14))), at(2025, 10, 10)
    )
    assert warnings(view) == [
        (at(2025, 10, 16), "after 5 working days"),
        (at(2025, 10, 21), "after 8 working days"),
    ]
    assert view.due_at == at(2025, 10, 23)
    assert [t.fraction for t in view.thresholds] == [0.5, 0.8]


def test_a_ten_to_fifteen_working_day_report_warns_at_exactly_ten_days() -> None:
    # [004:241] 资料齐全的情况下，10-15个工作日内出具第二诊疗意见报告. Materials complete Mon 2025-11-03 10:00:
    # 11-04..07 (4), 11-10..14 (9), 11-17 (10) -> warning 11-18 00:00 (v1's float 0.6667 gave 00:00:43);
    # half-way 7.5 working days -> 11-13 (day 8) at 12:00; 11-18..21 (14), 11-24 (15) -> due 11-25 00:00.
    view = computed_clock(
        "axa.second_opinion", "deliver_report", log(("materials_complete", at(2025, 11, 3, 10))), at(2025, 11, 4)
    )
    assert warnings(view) == [
        (at(2025, 11, 13, 12), "1/2 of the budget"),
        (at(2025, 11, 18), "after 10 working days"),
    ]
    assert view.due_at == at(2025, 11, 25)
    assert view.thresholds[1].fraction == float(Fraction(2, 3))  # the exact share, shown as a float


def test_a_one_to_three_working_day_dispatch_warns_at_exactly_one_day() -> None:
    # [003:L2804] 订单支付完成后1-3个工作日内安排药品发货. Paid Fri 2025-09-26 14:00: day 1 is the make-up
    # Sunday 9-28 -> warning 9-29 00:00 (v1's float 0.3333 gave 9-28 23:59:51); 9-29, 9-30 -> due 10-01 00:00.
    view = computed_clock(
        "zhongan.drug_discount", "ship_order", log(("order_paid", at(2025, 9, 26, 14))), at(2025, 9, 27)
    )
    assert warnings(view) == [(at(2025, 9, 29), "after 1 working day")]
    assert view.due_at == at(2025, 10, 1)


def test_a_seven_to_ten_working_day_screening_report_warns_at_exactly_seven_days() -> None:
    # [003:L1403] 体检完成后7-10个工作日. Check done Mon 2025-12-01 09:00: 12-02..05 (4), 12-08..10 (7) -> warning
    # 12-11 00:00; 12-11, 12, 15 (10) -> due 12-16 00:00.
    view = computed_clock(
        "zhongan.cancer_screening", "issue_report", log(("sample_received", at(2025, 12, 1, 9))), at(2025, 12, 2)
    )
    assert warnings(view) == [(at(2025, 12, 11), "after 7 working days")]
    assert view.due_at == at(2025, 12, 16)


def test_a_one_to_five_working_day_booking_warns_after_one_and_four_days() -> None:
    # [001:L334] 提供1-5个工作日内的知名三甲医院专家服务预约. Approved Mon 2025-12-01 15:00: 12-02 (1) -> 12-03 00:00;
    # 12-03, 04, 05 (4) -> 12-06 00:00; 12-08 (5, after the weekend) -> due 12-09 00:00.
    events = log(("eligibility_approved", at(2025, 12, 1, 15)))
    view = computed_clock("ruitai.ci_green_channel.expert_outpatient", "book_outpatient", events, at(2025, 12, 2))
    assert warnings(view) == [(at(2025, 12, 3), "after 1 working day"), (at(2025, 12, 6), "after 4 working days")]
    assert view.due_at == at(2025, 12, 9)


def test_a_one_to_three_day_delivery_in_calendar_days_warns_after_three_days() -> None:
    # [003:L4751] 平均1-3天送达，部分偏远地区5天内送达. Paid Mon 2025-12-01 10:00: 12-02, 03, 04 -> warning
    # 12-05 00:00; 5 days end Sat 12-06, a rest day -> Mon 12-08 (art. 203) -> due 12-09 00:00.
    view = computed_clock(
        "zhongan.direct_drug_settlement", "deliver_drug", log(("order_paid", at(2025, 12, 1, 10))), at(2025, 12, 2)
    )
    assert warnings(view) == [(at(2025, 12, 5), "after 3 calendar days")]
    assert view.due_at == at(2025, 12, 9)


def test_default_warnings_are_exact_halves_and_four_fifths_of_the_budget() -> None:
    # Clocks that state no warning: 1/2 and 4/5. The 48 h status call [001:L363] from Tue 2025-09-30 18:30:
    # 24 h -> 10-01 18:30; 38.4 h = 38 h 24 min -> 10-02 08:54.
    view = computed_clock(
        "pingan_health.green_channel.admission",
        "inform_status",
        log(("request_opened", at(2025, 9, 30, 18, 30))),
        at(2025, 10, 1),
    )
    assert warnings(view) == [
        (at(2025, 10, 1, 18, 30), "1/2 of the budget"),
        (at(2025, 10, 2, 8, 54), "4/5 of the budget"),
    ]


def test_every_warning_of_every_catalog_clock_falls_on_a_whole_second_before_its_due() -> None:
    t0 = at(2025, 3, 3, 10, 17, 33)
    for entry in CATALOG:
        for spec in entry.clocks:
            events = [RecordedEvent(kind, t0 + timedelta(minutes=i), i + 1) for i, kind in enumerate(spec.start_all_of)]
            if spec.notice:  # the customer's notice the commitment depends on, well ahead
                events.append(RecordedEvent(spec.notice.event, t0 - timedelta(days=3), 0))
            view = next(v for v in compute_clocks(entry, events, CAL, t0 + timedelta(hours=1)) if v.clock_id == spec.id)
            assert view.due_at is not None, (entry.id, spec.id)
            for threshold in view.thresholds:
                assert threshold.at is not None and threshold.at.microsecond == 0, (entry.id, spec.id, threshold)
                assert view.started_at is not None and view.started_at < threshold.at < view.due_at, (entry.id, spec.id)


def test_no_catalog_file_writes_a_warning_as_a_float() -> None:
    for path in sorted(Path("catalog").glob("*.yaml")):
        for service in yaml.safe_load(path.read_text(encoding="utf-8"))["services"]:
            for spec in service.get("clocks") or []:
                assert not any(isinstance(w, float) for w in spec.get("warn_at") or []), (path.name, spec.get("id"))


# -- the catalog format -----------------------------------------------------------------------------
def with_clock(tmp_path: Path, **changes: object) -> Path:
    doc = yaml.safe_load(yaml.safe_dump(VALID_CATALOG))
    doc["services"][0]["clocks"][0].update(changes)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    return tmp_path


def test_warn_at_takes_exact_fractions_and_reads_a_number_as_the_decimal_written(tmp_path: Path) -> None:
    spec = load_catalog(with_clock(tmp_path, warn_at=["1/3", 0.6667])).get("test.svc").clocks[0]
    assert [w.share for w in spec.thresholds()] == [Fraction(1, 3), Fraction(6667, 10000)]
    assert spec.warn_at == (1 / 3, 0.6667)


def test_warn_after_is_in_the_clocks_own_unit(tmp_path: Path) -> None:
    spec = (
        load_catalog(with_clock(tmp_path, warn_after=[{"working_days": 2}], warn_at=["4/5"])).get("test.svc").clocks[0]
    )
    assert [(w.share, w.after) for w in spec.thresholds()] == [
        (Fraction(2, 5), Duration(DurationUnit.WORKING_DAYS, 2)),
        (Fraction(4, 5), None),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"warn_after": {"hours": 12}}, "hours duration is not allowed here"),
        ({"warn_after": {"working_days": 5}}, "strictly inside the budget"),
        ({"warn_at": ["1/2"], "warn_after": {"working_days": 2}, "duration": {"working_days": 4}}, "increasing"),
        ({"warn_at": ["two thirds"]}, "is not a fraction"),
        ({"warn_at": [True]}, "fractions such as"),
    ],
)
def test_bad_warnings_are_rejected_naming_file_and_entry(tmp_path: Path, changes: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(CatalogError, match=message) as error:
        load_catalog(with_clock(tmp_path, **changes))
    assert "test.yaml" in str(error.value) and "test.svc" in str(error.value)


def test_a_pinned_version_one_document_with_float_warnings_still_parses(tmp_path: Path) -> None:
    # Requests pin the document in force when they opened: v1 wrote warn_at: [0.5, 0.6667].
    spec = load_catalog(with_clock(tmp_path, warn_at=[0.5, 0.6667])).get("test.svc").clocks[0]
    assert [float(w.share) for w in spec.thresholds()] == [0.5, 0.6667]
    view = compute_clocks(
        load_catalog(tmp_path).get("test.svc"),
        log(("materials_complete", at(2025, 11, 3, 10))),
        CAL,
        at(2025, 11, 4),
    )[0]
    # 5 working days from Mon 11-03 10:00 (counting from 11-04 00:00): 0.6667 x 5 days = 3.3335 days =
    # 3 days + 8 h 0 min 14.4 s -> 11-04, 05, 06, then Fri 11-07 08:00:14 (whole seconds, rounded down).
    assert view.thresholds[1].at == at(2025, 11, 7, 8, 0, 14)
    assert EventType.MATERIALS_COMPLETE in load_catalog(tmp_path).get("test.svc").accepts


def test_a_calendar_day_warning_on_a_rest_day_stays_there_while_the_due_moves_to_the_next_working_day() -> None:
    # [003:L4751] 平均1-3天送达，部分偏远地区5天内: paid Wed 2025-12-03 10:00: 12-04, 05, 06 -> the 3-day warning
    # is 24:00 of Sat 12-06 (art. 203 moves the end of a period, not a point inside it); 5 days end Mon 12-08,
    # a working day -> due 12-09 00:00. (Moved like a deadline, the warning would have fallen on the due.)
    view = computed_clock(
        "zhongan.direct_drug_settlement", "deliver_drug", log(("order_paid", at(2025, 12, 3, 10))), at(2025, 12, 4)
    )
    assert warnings(view) == [(at(2025, 12, 7), "after 3 calendar days")]
    assert view.due_at == at(2025, 12, 9)
