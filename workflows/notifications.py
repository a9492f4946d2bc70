"""What one change of a request tells its vendor: the notifications an AdvanceResult carries.

Pure and deterministic (the request workflow runs it on every change, replay included): it compares
the clocks before and after the change. A threshold fired in the current cycle that had not fired
before is `clock.at_risk`; an outcome newly `breached` or `met` is `clock.breached` / `clock.met`; a
correction of a recorded outcome is `outcome.corrected` (and only that, for its clock); the request
leaving `open` is `request.closed`.
"""

from datetime import datetime

from sla.engine.model import ClockView, Outcome, OutcomeChange
from sla.events import RequestStatus
from sla.notifications import WebhookEvent
from workflows.messages import Notification

AT_RISK, BREACHED, MET = WebhookEvent.CLOCK_AT_RISK, WebhookEvent.CLOCK_BREACHED, WebhookEvent.CLOCK_MET
CORRECTED, CLOSED = WebhookEvent.OUTCOME_CORRECTED, WebhookEvent.REQUEST_CLOSED


def notifications_of(
    before: list[ClockView],
    after: list[ClockView],
    corrections: list[OutcomeChange],
    corrections_before: int,
    status_before: RequestStatus,
    status_after: RequestStatus,
    now: datetime,
    closed_at: datetime | None = None,
) -> list[Notification]:
    """The notifications of one change, in the order their instants happened."""
    old = {(c.clock_id, c.instance): c for c in before}
    new = {(c.clock_id, c.instance): c for c in after}
    corrected = {(c.clock_id, c.instance) for c in corrections}
    out: list[Notification] = []
    for key, clock in new.items():
        previous = old.get(key)
        fired = {(previous.cycle, t.fraction) for t in previous.thresholds if t.fired} if previous else set()
        for threshold in clock.thresholds:
            if threshold.fired and threshold.at is not None and (clock.cycle, threshold.fraction) not in fired:
                out.append(_of(AT_RISK, threshold.at, clock, threshold=threshold.fraction))
        if key in corrected:
            continue  # said once, as the correction
        was = previous.outcome if previous else None
        if clock.outcome is Outcome.BREACHED and was != Outcome.BREACHED:
            out.append(_of(BREACHED, clock.breached_at or clock.due_at or now, clock))
        elif clock.outcome is Outcome.MET and was != Outcome.MET:
            out.append(_of(MET, clock.stopped_at or now, clock))
    for ordinal, correction in enumerate(corrections, start=corrections_before + 1):
        of = new.get((correction.clock_id, correction.instance))
        out.append(
            Notification(
                kind=CORRECTED,
                at=correction.at or now,
                state=correction.current or "reopened",
                clock_id=correction.clock_id,
                instance=correction.instance,
                cycle=of.cycle if of else 1,
                due_at=of.due_at if of else None,
                previous=correction.previous,
                ordinal=ordinal,
            )
        )
    if status_before is RequestStatus.OPEN and status_after is not RequestStatus.OPEN:
        out.append(Notification(kind=CLOSED, at=closed_at or now, state=status_after, instance=0, cycle=0))
    return sorted(out, key=lambda n: n.at)


def _of(kind: WebhookEvent, at: datetime, clock: ClockView, threshold: float | None = None) -> Notification:
    state = clock.outcome or clock.state
    return Notification(
        kind=kind,
        at=at,
        state=state,
        clock_id=clock.clock_id,
        instance=clock.instance,
        cycle=clock.cycle,
        due_at=clock.due_at,
        threshold=threshold,
    )
