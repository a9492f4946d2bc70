"""sla/engine/review.py: nobody grades themselves (issue 24, item 2). An axa inpatient admission opened
2025-09-25 09:00, started 09-26 15:00 (notice, complete materials, audit passed), due 10-17 00:00."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from sla.engine import compute_clocks
from sla.engine.model import ClockState, ClockView, RecordedEvent
from sla.engine.review import (
    CorrectionReview,
    EventBeforeOpeningError,
    ProposedChange,
    ReviewDecisionError,
    ReviewStatus,
    check_not_before_opening,
    decide,
    may_need_review,
    review_of,
    working_days_late,
)
from sla.events import EventType
from tests.helpers import at, log

CAL = default_calendar()
ENTRY = default_catalog().get("axa.green_channel.inpatient")
OPENED = at(2025, 9, 25, 9)
STARTED = log(
    ("request_opened", OPENED),
    ("admission_notice_issued", at(2025, 9, 24)),
    ("materials_complete", at(2025, 9, 25, 10)),
    ("eligibility_approved", at(2025, 9, 26, 15)),
)


def plans(event: RecordedEvent, now: datetime) -> tuple[list[ClockView], list[ClockView]]:
    return compute_clocks(ENTRY, STARTED, CAL, now), compute_clocks(ENTRY, [*STARTED, event], CAL, now)


def stop(occurred_at: datetime) -> RecordedEvent:
    return RecordedEvent(EventType.HOSPITAL_CONFIRMED, occurred_at, 5, "coordinator:vendor-reliable")


def test_an_event_dated_ten_years_before_the_opening_is_refused_and_a_hospitals_prior_notice_is_not() -> None:
    with pytest.raises(EventBeforeOpeningError) as refused:
        check_not_before_opening(OPENED, "hospital_confirmed", at(2015, 9, 25, 9))
    assert refused.value.rule == "event.before_opening" and refused.value.source
    check_not_before_opening(OPENED, "admission_notice_issued", at(2025, 9, 24))
    check_not_before_opening(OPENED, "hospital_confirmed", OPENED)
    check_not_before_opening(OPENED, "hospital_confirmed", OPENED - timedelta(seconds=1))  # a client's clock


def test_a_stop_dated_before_the_due_that_would_undo_a_breach_is_held_whenever_it_is_sent() -> None:
    event = stop(at(2025, 10, 16, 18))
    now = at(2025, 10, 17, 9)  # nine hours after the breach: well inside the lateness bound
    without, with_event = plans(event, now)
    review = review_of(without, with_event, event, now, CAL, late_limit_working_days=2)
    assert review is not None and review.rule == "correction.reverses_breach"
    assert review.changes == (ProposedChange("arrange_admission", 1, ClockState.BREACHED, ClockState.MET),)
    assert review.status is ReviewStatus.PENDING and review.correction_id == "event-5"
    assert may_need_review(without, event, now, CAL, 2)  # the breach's timer may not have fired yet


def test_a_stop_recorded_the_same_day_before_the_due_counts_at_once() -> None:
    event = stop(at(2025, 10, 14, 9))
    now = at(2025, 10, 14, 10)
    without, with_event = plans(event, now)
    assert not may_need_review(without, event, now, CAL, 2)
    assert review_of(without, with_event, event, now, CAL, 2) is None


def test_a_stop_recorded_more_working_days_late_than_the_setting_allows_waits_for_the_insurer() -> None:
    event = stop(at(2025, 9, 29, 10))
    now = at(2025, 10, 14, 10)  # 09-30, 10-09, 10-10, 10-11 (Sat, make-up), 10-13, 10-14
    assert working_days_late(CAL, event.occurred_at, now) == 6
    without, with_event = plans(event, now)
    review = review_of(without, with_event, event, now, CAL, 2)
    assert review is not None and review.rule == "correction.recorded_late"
    assert review_of(without, with_event, event, now, CAL, 6) is None


def test_a_correction_is_decided_once_with_who_and_when() -> None:
    event = stop(at(2025, 10, 16, 18))
    review = CorrectionReview("event-5", event, "correction.reverses_breach", "r", (), at(2025, 10, 17, 9))
    accepted = decide(review, True, "auditor:axa_tianping:k1", at(2025, 10, 18, 9), "letter seen")
    assert (accepted.status, accepted.decided_by, accepted.decided_at) == (
        ReviewStatus.ACCEPTED,
        "auditor:axa_tianping:k1",
        at(2025, 10, 18, 9),
    )
    with pytest.raises(ReviewDecisionError):
        decide(accepted, False, "admin:all:k2", at(2025, 10, 19, 9))
