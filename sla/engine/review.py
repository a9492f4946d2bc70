"""Nobody grades themselves: which events count at once, and which wait for the insurer (issue 24).

A late correction is legitimate (a coordinator forgot to record a stop), self-grading is not. So:

- an event may not be dated before the request's opening, except the facts that precede a request by
  nature (`PRIOR_FACTS`: a hospital's admission notice, an admission or a discharge) and the past
  events an opening carries (checked by `sla/engine/backfill.py`, not here);
- an event that turns a breach into anything else, or that closes, pauses or extends a clock in its
  owner's favour although it was recorded more than the allowed working days after its effective
  time, is *held*: recorded with what it would change, but without effect on the clocks, the
  metrics, the reports or the vendor's webhooks, until an insurer's auditor or an admin accepts it
  (then it counts as if it had just arrived) or rejects it (it never counts). Either way the
  decision stays on the request with who took it and when.

Pure: the activity that plans a change calls `review_of` with the two plans it computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sla.calendar.timeutil import local_date, require_aware
from sla.calendar.working import WorkingCalendar
from sla.engine.model import TICKING_STATES, ClockState, ClockView, Outcome, RecordedEvent
from sla.engine.rules import CLOCK_SKEW_TOLERANCE
from sla.errors import EventNotAllowedError, SlaError
from sla.events import EventType

REVIEW_SOURCE = "sla/engine/review.py: nobody grades themselves (issue 24)"

# Facts about the insured that happen before a request by nature: a hospital issues the admission
# notice the customer then applies with; a follow-up is requested after the discharge.
PRIOR_FACTS = frozenset({EventType.ADMISSION_NOTICE_ISSUED, EventType.PATIENT_ADMITTED, EventType.PATIENT_DISCHARGED})

# How many working days after its effective time an event may be recorded and still count at once.
DEFAULT_LATE_LIMIT_WORKING_DAYS = 2


class EventBeforeOpeningError(SlaError, ValueError):
    rule = "event.before_opening"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ProposedChange:
    """What a held event would do to one clock: its state as it stands, and with the event."""

    clock_id: str
    instance: int
    current: ClockState
    proposed: ClockState


@dataclass(frozen=True)
class CorrectionReview:
    """A held event and the insurer's decision on it. `event` is the event as recorded (its own seq);
    it enters the request's log only when accepted."""

    correction_id: str
    event: RecordedEvent
    rule: str  # correction.reverses_breach | correction.recorded_late
    reason: str
    changes: tuple[ProposedChange, ...]
    held_at: datetime
    status: ReviewStatus = ReviewStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""


def check_not_before_opening(opened_at: datetime, event_type: str, occurred_at: datetime) -> None:
    """Refuse an event dated before the request's opening (the facts that precede it aside). The
    coordinators' clock skew is tolerated, as for the future: `date -Iseconds` drops the fraction of
    the second the request opened in."""
    if event_type in PRIOR_FACTS:
        return
    if require_aware(occurred_at, "occurred_at") < require_aware(opened_at) - CLOCK_SKEW_TOLERANCE:
        raise EventBeforeOpeningError(
            f"occurred_at {occurred_at.isoformat()} is before the request opened ({opened_at.isoformat()}); "
            "past events are moved over with the opening (events), never sent later",
            source=REVIEW_SOURCE,
        )


def working_days_late(calendar: WorkingCalendar, occurred_at: datetime, received_at: datetime) -> int:
    """Working days from the event's effective date to the day it was recorded (0: the same day)."""
    occurred, received = local_date(occurred_at), local_date(received_at)
    return calendar.working_days_between(occurred, received) if received > occurred else 0


_CLOSED_FOR_OWNER = {ClockState.MET, ClockState.EXEMPT, ClockState.CANCELLED}


def _favours_owner(current: ClockView, proposed: ClockView) -> bool:
    """Whether `proposed` is better for whoever owes the clock than `current` (without the event)."""
    if current.state in _CLOSED_FOR_OWNER or current.outcome in (Outcome.MET, Outcome.EXEMPT, Outcome.CANCELLED):
        return False  # already closed without a breach: nothing left to gain
    if proposed.state in _CLOSED_FOR_OWNER:
        return True
    if proposed.state is ClockState.PAUSED and current.state is ClockState.RUNNING:
        return True
    return current.due_at is not None and proposed.due_at is not None and proposed.due_at > current.due_at


def may_need_review(
    current: Sequence[ClockView], event: RecordedEvent, received_at: datetime, calendar: WorkingCalendar, limit: int
) -> bool:
    """Cheap first look (no second engine run): only a late event, or a request with a clock that is
    breached or past its due (a breach whose timer has not fired yet), can need a review."""
    if working_days_late(calendar, event.occurred_at, received_at) > limit:
        return True
    return any(
        c.state is ClockState.BREACHED
        or (c.state in TICKING_STATES and c.due_at is not None and c.due_at <= received_at)
        for c in current
    )


def review_of(
    without: Sequence[ClockView],
    with_event: Sequence[ClockView],
    event: RecordedEvent,
    received_at: datetime,
    calendar: WorkingCalendar,
    late_limit_working_days: int,
) -> CorrectionReview | None:
    """The review `event` needs, or None when it counts at once. `without` and `with_event` are the
    clock plans at `received_at` without and with it (so a breach the workflow has not recorded yet
    because its timer is late still counts as a breach)."""
    before = {c.key: c for c in without}
    reversed_breach, favourable = [], []
    for clock in with_event:
        current = before.get(clock.key)
        if current is None or (current.state is clock.state and current.due_at == clock.due_at):
            continue
        change = ProposedChange(clock.clock_id, clock.instance, current.state, clock.state)
        if current.state is ClockState.BREACHED and clock.state is not ClockState.BREACHED:
            reversed_breach.append(change)
        elif _favours_owner(current, clock):
            favourable.append(change)
    correction_id = f"event-{event.seq}"
    if reversed_breach:
        names = ", ".join(f"{c.clock_id} ({c.current} -> {c.proposed})" for c in reversed_breach)
        return CorrectionReview(
            correction_id,
            event,
            "correction.reverses_breach",
            f"{event.type.value} effective {event.occurred_at.isoformat()} would undo a breach: {names}; "
            "it counts once the insurer accepts it",
            tuple(reversed_breach + favourable),
            received_at,
        )
    late = working_days_late(calendar, event.occurred_at, received_at)
    if favourable and late > late_limit_working_days:
        names = ", ".join(f"{c.clock_id} ({c.current} -> {c.proposed})" for c in favourable)
        return CorrectionReview(
            correction_id,
            event,
            "correction.recorded_late",
            f"{event.type.value} recorded {late} working days after its effective time (at most "
            f"{late_limit_working_days} count at once) would favour the clock's owner: {names}; "
            "it counts once the insurer accepts it",
            tuple(favourable),
            received_at,
        )
    return None


class ReviewDecisionError(EventNotAllowedError):
    rule = "correction.not_pending"


def decide(review: CorrectionReview, accepted: bool, by: str, at: datetime, note: str = "") -> CorrectionReview:
    """The insurer's decision; a correction is decided once."""
    if review.status is not ReviewStatus.PENDING:
        raise ReviewDecisionError(
            f"correction {review.correction_id} was already {review.status.value} by {review.decided_by} "
            f"at {review.decided_at.isoformat() if review.decided_at else '?'}",
            source=REVIEW_SOURCE,
        )
    status = ReviewStatus.ACCEPTED if accepted else ReviewStatus.REJECTED
    return replace(review, status=status, decided_by=by, decided_at=require_aware(at), note=note)
