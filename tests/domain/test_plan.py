"""Planning a change (sla/engine/plan.py), in process: the code path the `advance_request` activity and
a calendar dry run share. Instants worked by hand (README.md, "Working days: the rule")."""

from __future__ import annotations

import pytest

from adapters.calendar_files import build_calendar, default_calendar, load_overlay_file
from adapters.catalog_files import default_catalog
from sla.engine import Outcome, RecordedEvent
from sla.engine.plan import PROVISIONAL, plan_change
from sla.errors import CustomerWindowError
from sla.events import EventType
from tests.data import OVERLAY_2027
from tests.helpers import at, log

CALENDAR = default_calendar()
CATALOG = default_catalog()
ADMISSION = CATALOG.pin("pingan_health.green_channel.admission").document
INPATIENT = CATALOG.pin("axa.green_channel.inpatient").document
GENE_TEST = CATALOG.pin("axa.zhuoyue.gene_test").document


def test_a_plan_names_the_notice_behind_each_year_and_provisional_for_a_year_without_data() -> None:
    events = log(("request_opened", at(2026, 12, 24, 9)))
    planned = plan_change(CALENDAR, catalog_document=ADMISSION, events=events, clocks=[], now=at(2026, 12, 25))
    assert planned.plan.calendar_sources["2027"] == PROVISIONAL
    assert "2026" in planned.plan.calendar_sources and planned.plan.calendar_sources["2026"] != PROVISIONAL


def test_a_calendar_change_records_the_due_instants_it_moves_with_its_reason() -> None:
    events = log(("request_opened", at(2026, 12, 24, 9)))
    now = at(2026, 12, 25)
    before = plan_change(CALENDAR, catalog_document=ADMISSION, events=events, clocks=[], now=now).plan.clocks
    with_2027 = build_calendar([load_overlay_file(OVERLAY_2027)])
    planned = plan_change(
        with_2027, catalog_document=ADMISSION, events=events, clocks=before, now=now, reason="2027 loaded"
    )
    (moved,) = planned.recomputes
    assert (moved.old_due_at, moved.new_due_at) == (at(2027, 1, 8), at(2027, 1, 9))
    assert (moved.old_provisional, moved.new_provisional, moved.reason, moved.at) == (True, False, "2027 loaded", now)
    assert planned.corrections == []


def test_a_late_event_that_changes_a_closed_outcome_is_a_correction_stamped_now() -> None:
    # As test_engine's retroactive case: due 10-17 00:00 [004:67], confirmed 10-20 -> breached; then
    # incomplete 9-30 and complete 10-09 arrive late: restarted 10-09, due 10-23 00:00 -> met.
    events = log(
        ("request_opened", at(2025, 9, 25, 9)),
        ("admission_notice_issued", at(2025, 9, 24)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
        ("materials_complete", at(2025, 9, 25, 10)),
        ("hospital_confirmed", at(2025, 10, 20, 12)),
    )
    now = at(2025, 10, 21)
    breached = plan_change(CALENDAR, catalog_document=INPATIENT, events=events, clocks=[], now=now).plan.clocks
    incomplete = RecordedEvent(EventType.MATERIALS_INCOMPLETE, at(2025, 9, 30, 10), 6)
    complete = RecordedEvent(EventType.MATERIALS_COMPLETE, at(2025, 10, 9, 10), 7)
    planned = plan_change(
        CALENDAR,
        catalog_document=INPATIENT,
        events=events,
        clocks=breached,
        now=now,
        new_event=complete,
        backfill=[incomplete],
    )
    assert [(c.clock_id, c.previous, c.current, c.at) for c in planned.corrections] == [
        ("arrange_admission", Outcome.BREACHED, Outcome.MET, now)
    ]
    assert planned.corrections[0].reason == "event materials_complete (seq 7) effective 2025-10-09T10:00:00+08:00"
    assert planned.recomputes == []  # no reason: not a calendar change


def test_a_new_event_that_breaks_a_customer_window_is_refused_by_the_plan() -> None:
    # Gene test booked for Fri 2025-10-10 09:00: cancel by 16:00 two working days before, 9-30 [002:311].
    booked = log(("customer_confirmed", at(2025, 9, 26, 10), {"appointment_at": "2025-10-10T09:00:00+08:00"}))
    late = RecordedEvent(EventType.CUSTOMER_CANCELLED, at(2025, 9, 30, 16, 1), 2)
    with pytest.raises(CustomerWindowError) as error:
        plan_change(CALENDAR, catalog_document=GENE_TEST, events=booked, clocks=[], now=at(2025, 10, 1), new_event=late)
    assert error.value.rule == "customer_window.cancel_two_working_days_before_16"
