"""Inputs, results and views of ServiceRequestWorkflow and its activities (JSON-serializable).

The domain's own frozen types cross every boundary as they are: a clock is `sla.engine.ClockView`
from the engine to history, the read model and the API, an event is `RecordedEvent`, a correction
`OutcomeChange`, a recompute `DueChange`, an advisory `Advisory`. This module defines only what
exists because of Temporal: commands, inputs, results, the workflow's view.

No `from __future__ import annotations` here: the payload converter resolves these annotations
for every value it decodes, and string annotations would be compiled again each time (measured:
~330 compiles and ~5x slower replay per history).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sla.engine.changes import DueChange
from sla.engine.model import Advisory, ClockView, OutcomeChange, RecordedEvent
from sla.engine.review import CorrectionReview
from sla.events import RequestStatus
from sla.notifications import DeliveryState, WebhookEvent


@dataclass
class Insured:
    """Personal data: only ever inside encrypted payloads and encrypted columns."""

    name: str
    id_number: str


@dataclass
class RecordEventInput:
    type: str
    occurred_at: datetime
    sender: str
    data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass
class WritePosition:
    """Where a read-model write stands among all attempts to write it: the run (a request that
    continued as new starts each run's history length again), the workflow task's history length,
    then the revision, then when this attempt was scheduled (two attempts of one failed workflow
    task see the same history length). Larger wins; see activities/projection.py."""

    history_length: int
    revision: int
    attempt_ns: int
    run: int = 1  # positions recorded before runs were numbered are all of the first run

    def key(self) -> tuple[int, int, int, int]:
        return (self.run, self.history_length, self.revision, self.attempt_ns)


@dataclass
class IdempotencyRecord:
    """An Idempotency-Key the request has seen: the event it recorded and what was sent with it."""

    seq: int
    sent: str


@dataclass(kw_only=True)
class CarriedState:
    """The request's whole state, handed from a run that continues as new to the next one: the
    workflow's own fields, so the next run answers, deduplicates and writes exactly as this one
    would have. `run` numbers the runs (1 for the first), so the read model's write position stays
    ordered although each run's history length starts again."""

    run: int
    events: list[RecordedEvent]
    clocks: list[ClockView]
    calendar_fingerprint: str
    calendar_sources: dict[str, str]
    recomputes: list[DueChange]
    corrections: list[OutcomeChange]
    keys: dict[str, IdempotencyRecord]
    revision: int
    calendar_generation: int
    written: WritePosition | None
    opened_by: str | None
    calendar_reasons: list[str] = field(default_factory=list)  # signals received while draining
    reviews: list[CorrectionReview] = field(default_factory=list)  # held events and their decisions


@dataclass(kw_only=True)
class ServiceRequestInput:
    request_id: str
    service_id: str
    vendor_id: str
    insurer_id: str
    policy_no: str
    insured: Insured
    opened_at: datetime
    catalog_document: dict[str, Any]  # the entry pinned at opening
    catalog_digest: str
    external_ref: str | None = None
    # Past events sent with the opening (moving a request over): recorded before the first plan.
    backfill: list[RecordEventInput] = field(default_factory=list)
    # Continue as new after this many updates in one run, whatever the server suggests: Temporal
    # refuses updates past its per-run limit (history.maxTotalUpdates, 2,000 by default).
    updates_per_run: int = 500
    # What the run before this one handed over (None: this is the request's first run).
    carried: CarriedState | None = None


@dataclass(kw_only=True)
class RequestView:
    request_id: str
    service_id: str
    vendor_id: str
    insurer_id: str
    status: RequestStatus
    opened_at: datetime
    revision: int
    catalog_digest: str
    calendar_fingerprint: str
    events: list[RecordedEvent] = field(default_factory=list)
    clocks: list[ClockView] = field(default_factory=list)
    recomputes: list[DueChange] = field(default_factory=list)
    corrections: list[OutcomeChange] = field(default_factory=list)
    calendar_sources: dict[str, str] = field(default_factory=dict)
    external_ref: str | None = None
    # Worked out by the activity from the whole log and written to the read model; the workflow keeps
    # none (its history stays small), so this is empty in the workflow's own view.
    advisories: list[Advisory] = field(default_factory=list)
    # Events held for the insurer's review (not in `events` until accepted), with their decisions.
    reviews: list[CorrectionReview] = field(default_factory=list)


@dataclass
class RequestState:
    """What the workflow plans from (query `get_state`): a calendar dry run feeds exactly this to the
    same planning code the workflow's own recompute runs."""

    view: RequestView
    catalog_document: dict[str, Any]
    catalog_version: int


@dataclass
class DecideCorrection:
    """An insurer's auditor or an admin accepts or rejects a held event (update decide_correction)."""

    correction_id: str
    accept: bool
    decided_by: str  # the key's role and scope, e.g. "auditor:axa_tianping" (no personal data)
    note: str = ""


@dataclass
class RecordEventResult:
    """Stored in history, so kept bounded: the view only while the request is short."""

    event_seq: int
    revision: int
    status: RequestStatus
    duplicate: bool = False
    held: str | None = None  # the correction id, when the event waits for the insurer's review
    # The request as this update left it (the workflow's view: no advisories), so the API answers
    # without reading the read model; None past ANSWERED_VIEW_EVENTS events and held ones (the API
    # reads the read model then), and in results recorded before it was sent.
    view: RequestView | None = None


# A result's view grows with the request's events, and every update's result stays in history: past
# this many (typical requests hold under 15), the answer is read from the read model instead.
ANSWERED_VIEW_EVENTS = 40


@dataclass
class CalendarChanged:
    reason: str
    generation: int = 0  # the loaded calendar's generation: a worker with an older cached one reloads


@dataclass
class PersonalData:
    policy_no: str
    insured: Insured


@dataclass
class ProjectionState:
    """What the workflow's last read-model write was made of (query `get_projection`): the committed
    state and its position, so a rebuild writes exactly that row again (readmodel/rebuild.py)."""

    view: RequestView
    catalog_document: dict[str, Any]
    catalog_version: int
    personal: PersonalData
    written: WritePosition | None  # None: nothing written yet


@dataclass(kw_only=True)
class AdvanceInput:
    """Input of the local activity `advance_request`. Local-activity inputs are never written to
    history, so carrying the whole view costs no history bytes."""

    view: RequestView  # the request as it stands before this change
    catalog_document: dict[str, Any]  # the pinned entry: the engine needs its clocks
    catalog_version: int
    now: datetime
    new_event: RecordedEvent | None = None  # checked against the customer windows, then appended
    reason: str | None = None  # a calendar change, recorded against every due instant it moves
    personal: PersonalData | None = None  # sealed into the row when the row is (re)written whole
    history_length: int = 0  # of the workflow task running this change
    written: WritePosition | None = None  # the position of the last write the workflow committed
    calendar_generation: int = 0  # the newest calendar generation the workflow was told about
    backfill: list[RecordedEvent] = field(default_factory=list)  # past events of the opening, in order
    run: int = 1  # which run of the request (the first is 1; each continue-as-new adds one)
    # An insurer's decision on a held event: accepted, `new_event` is that event and is not held again.
    decision: CorrectionReview | None = None


@dataclass(kw_only=True)
class AdvanceResult:
    """Recorded in history (the local activity's marker): only what changed, so history grows
    linearly with the events, not quadratically."""

    clocks: list[ClockView]
    calendar_fingerprint: str
    calendar_sources: dict[str, str]  # year -> notice, for the years the deadlines touch
    revision: int
    corrections: list[OutcomeChange] = field(default_factory=list)
    recomputes: list[DueChange] = field(default_factory=list)
    position: WritePosition | None = None  # where this change was written (None: nothing changed)
    # The notification kinds the vendor's webhooks want (None in histories written before it was
    # asked: notify as then); the workflow runs notify_vendor only for a kind someone wants.
    subscribed_kinds: list[str] | None = None
    # The new event was held for the insurer's review: recorded there, not in the log; clocks as without it.
    held: CorrectionReview | None = None


@dataclass
class ArchiveInput:
    request_id: str
    workflow_id: str
    run_id: str | None = None  # None: the run calling it (histories recorded before runs were numbered)
    run: int = 1
    closing: bool = True  # the request's last run, archived as it closes (else a run that continued as new)


@dataclass(kw_only=True)
class Notification:
    """One thing a vendor may be told, worked out by the request workflow from an AdvanceResult.
    No personal data: ids, instants and states only."""

    kind: WebhookEvent
    at: datetime  # when it happened: the threshold instant, the breach (due_at), the stop, the change
    state: str  # the clock's state (or outcome) after the change; the request's status for request.closed
    clock_id: str | None = None
    instance: int = 1
    cycle: int = 1
    due_at: datetime | None = None
    threshold: float | None = None  # clock.at_risk: the fraction of the budget that fired
    previous: str | None = None  # outcome.corrected: the outcome before
    ordinal: int = 0  # outcome.corrected: which correction of the request (1, 2, ...): part of the message id


@dataclass
class NotifyInput:
    """Input of the local activity `notify_vendor` (never written to history)."""

    request_id: str
    service_id: str
    vendor_id: str
    notifications: list[Notification]


@dataclass
class NotifyResult:
    """Recorded in history: kept to one number."""

    started: int  # deliveries started (one per notification and subscribed webhook)


@dataclass
class DeliveryInput:
    """Input of WebhookDeliveryWorkflow: one message to one webhook. `body` is the exact JSON sent
    and signed, the same on every attempt."""

    webhook_id: str
    message_id: str
    event_type: WebhookEvent
    body: str


@dataclass
class DeliveryResult:
    state: DeliveryState  # delivered, abandoned or failed
    attempts: int
    status_code: int | None = None
