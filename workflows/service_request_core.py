"""The state of a service request and every step its workflow takes: ServiceRequestWorkflow
(workflows/service_request.py) is this class with Temporal's handlers on it.

Why two modules: the sandbox imports the workflow's own module again for every workflow it runs, so
each cached request held its own copy of all this code (~47 KiB of code objects, the largest part
of a cached workflow; bench/worker_memory.py). This module is passed through the sandbox: loaded
once per worker, its code shared by every run. It keeps no state of its own at module level but
the pinned entries below, which are immutable and keyed by their content.

Deadline arithmetic never runs here: every change goes through one local activity that plans the
clocks and writes the read model, so every due instant is recorded in history and a calendar
change cannot alter how this code replays.
"""

import asyncio
import contextlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from sla.catalog.model import ServiceEntry
from sla.catalog.parse import parse_service
from sla.engine.changes import DueChange
from sla.engine.model import OPEN_STATES, TICKING_STATES, ClockView, OutcomeChange, RecordedEvent
from sla.engine.review import CorrectionReview, ReviewStatus, check_not_before_opening, decide
from sla.engine.rules import precheck_event
from sla.errors import EventNotAllowedError, SlaError
from sla.event_data import check_event_data
from sla.events import EventType, RequestStatus, request_status
from workflows.activity_stubs import advance_request, archive_history, notify_vendor
from workflows.failures import rule_failure
from workflows.messages import (
    ANSWERED_VIEW_EVENTS,
    AdvanceInput,
    AdvanceResult,
    ArchiveInput,
    CalendarChanged,
    CarriedState,
    DecideCorrection,
    IdempotencyRecord,
    NotifyInput,
    PersonalData,
    ProjectionState,
    RecordEventInput,
    RecordEventResult,
    RequestState,
    RequestView,
    ServiceRequestInput,
    WritePosition,
)
from workflows.notifications import notifications_of

# Every command that tells the vendor is behind this patch: requests started by older code replay
# unchanged (workflows/webhook_delivery.py explains the design).
NOTIFICATIONS_PATCH = "vendor-notifications"
# Continuing as new is behind this patch: a run recorded before it replays as it ran, never continued.
CONTINUE_AS_NEW_PATCH = "continue-as-new"

_IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


# One parsed entry, and one copy of its document, per pinned catalog entry, shared by every request
# pinned to it: each decoded its own (~12 KiB a cached request). Shared only when the document is
# equal to the one cached under its digest, so a document is never swapped for a different one; both
# are never mutated (ServiceEntry is frozen). Bounded: past the bound an entry is parsed per request.
_PINNED: dict[str, tuple[dict[str, Any], ServiceEntry]] = {}
_PINNED_BOUND = 512


def shared_pinned_entry(digest: str, document: dict[str, Any]) -> tuple[dict[str, Any], ServiceEntry]:
    """The document and its parsed entry, the copies every request pinned to them shares."""
    cached = _PINNED.get(digest)
    if cached is not None and cached[0] == document:
        return cached
    pinned = (document, parse_service(document, f"pinned {digest}"))
    if cached is None and len(_PINNED) < _PINNED_BOUND:
        _PINNED[digest] = pinned
    return pinned


class ServiceRequestCore:
    """A request's state and steps; ServiceRequestWorkflow adds the handlers Temporal calls."""

    def __init__(self, input: ServiceRequestInput) -> None:
        # The shared copy replaces the decoded one in the input itself, which the run holds too.
        input.catalog_document, self._entry = shared_pinned_entry(input.catalog_digest, input.catalog_document)
        self._input = input
        opened = RecordedEvent(EventType.REQUEST_OPENED, input.opened_at, 1, "system", received_at=input.opened_at)
        self._events: list[RecordedEvent] = [opened]
        self._clocks: list[ClockView] = []
        self._fingerprint = ""
        self._calendar_sources: dict[str, str] = {}
        self._recomputes: list[DueChange] = []
        self._corrections: list[OutcomeChange] = []
        self._keys: dict[str, tuple[int, str]] = {}  # idempotency key -> (event seq, what was sent)
        self._revision = 0
        self._changed = False
        self._armed_wake: datetime | None = None
        self._calendar_reasons: list[str] = []
        self._calendar_generation = 0
        self._written: WritePosition | None = None  # the last read-model write this workflow committed
        self._opened_by: str | None = None  # the HTTP call that opened this request (wait_opened)
        self._lock = asyncio.Lock()
        self._reviews: list[CorrectionReview] = []  # events held for the insurer, and the decisions
        self._run = 1
        self._updates_this_run = 0
        self._stays_in_run = False  # a run recorded before the continue-as-new patch never continues
        if input.carried is not None:
            self._take_over(input.carried)

    def _take_over(self, carried: CarriedState) -> None:
        """Start where the run before this one stopped: the whole state, not a summary of it."""
        self._run = carried.run
        self._events = list(carried.events)
        self._clocks = list(carried.clocks)
        self._fingerprint = carried.calendar_fingerprint
        self._calendar_sources = dict(carried.calendar_sources)
        self._recomputes = list(carried.recomputes)
        self._corrections = list(carried.corrections)
        self._keys = {key: (record.seq, record.sent) for key, record in carried.keys.items()}
        self._revision = carried.revision
        self._calendar_generation = carried.calendar_generation
        self._written = carried.written
        self._opened_by = carried.opened_by
        self._calendar_reasons = list(carried.calendar_reasons)
        self._reviews = list(carried.reviews)
        self._changed = bool(self._calendar_reasons)

    def _carry(self) -> CarriedState:
        return CarriedState(
            run=self._run + 1,
            events=list(self._events),
            clocks=list(self._clocks),
            calendar_fingerprint=self._fingerprint,
            calendar_sources=dict(self._calendar_sources),
            recomputes=list(self._recomputes),
            corrections=list(self._corrections),
            keys={key: IdempotencyRecord(seq, sent) for key, (seq, sent) in self._keys.items()},
            revision=self._revision,
            calendar_generation=self._calendar_generation,
            written=self._written,
            opened_by=self._opened_by,
            calendar_reasons=list(self._calendar_reasons),
            reviews=list(self._reviews),
        )

    # -- the loop: one updatable timer ------------------------------------------------------------
    async def _run_request(self, input: ServiceRequestInput) -> RequestView:
        if input.carried is None:
            async with self._lock:
                backfill = [
                    RecordedEvent(
                        EventType(e.type), e.occurred_at, 2 + i, e.sender, e.data, e.idempotency_key, workflow.now()
                    )
                    for i, e in enumerate(input.backfill)
                ]
                await self._advance(reason=None, backfill=backfill)
                for command, record in zip(input.backfill, backfill, strict=True):
                    if command.idempotency_key:
                        self._keys[command.idempotency_key] = (record.seq, self._fingerprint_of(command))
        else:
            # The run before is closed now: archive it before Temporal's retention can drop it.
            await self._archive(workflow.info().continued_run_id, self._run - 1, closing=False)
        while not self._finished():
            wake = self._armed_wake = self._next_wake()
            timeout = max(wake - workflow.now(), timedelta(0)) if wake else None
            with contextlib.suppress(TimeoutError):  # the timer fired: time to re-evaluate
                await workflow.wait_condition(lambda: self._changed or self._continue_as_new_due(), timeout=timeout)
            async with self._lock:
                self._changed = False
                reasons, self._calendar_reasons = self._calendar_reasons, []
                if reasons:
                    await self._advance(reason="; ".join(reasons))
                elif wake is not None and workflow.now() >= wake:
                    await self._advance(reason=None)
            if not self._finished() and self._continue_as_new_due():
                if not workflow.patched(CONTINUE_AS_NEW_PATCH):
                    self._stays_in_run = True
                    continue
                # No update may be left half done: its caller would see the run end under it.
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._finished():
                    workflow.continue_as_new(replace(input, backfill=[], carried=self._carry()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._archive(None, self._run, closing=True)
        return self._view()

    async def _archive(self, run_id: str | None, run: int, closing: bool) -> None:
        await workflow.execute_activity(
            archive_history,
            ArchiveInput(self._input.request_id, workflow.info().workflow_id, run_id, run, closing),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_IO_RETRY,
        )

    def _continue_as_new_due(self) -> bool:
        """Before Temporal refuses this run anything: when the server suggests it (history events,
        history size, updates near their limit) or after our own bound on updates per run."""
        if self._stays_in_run:
            return False
        return workflow.info().is_continue_as_new_suggested() or self._updates_this_run >= self._input.updates_per_run

    # -- messages -------------------------------------------------------------------------------
    async def _record_event(self, command: RecordEventInput) -> RecordEventResult:
        self._updates_this_run += 1
        async with self._lock:
            duplicate = self._duplicate_of(command)
            if duplicate is not None:
                return RecordEventResult(duplicate, self._revision, self._status(), duplicate=True, view=self._answer())
            try:
                self._precheck(command)  # again: the state may have moved while we waited for the lock
            except SlaError as error:
                raise rule_failure(error) from None
            record = RecordedEvent(
                EventType(command.type),
                command.occurred_at,
                self._next_seq(),
                command.sender,
                command.data,
                command.idempotency_key,
                workflow.now(),
            )
            held = await self._advance(reason=None, new_event=record)
            if command.idempotency_key:
                self._keys[command.idempotency_key] = (record.seq, self._fingerprint_of(command))
            if self._next_wake() != self._armed_wake or self._finished():
                self._changed = True  # re-arm the timer, or let the loop end
            return RecordEventResult(record.seq, self._revision, self._status(), held=held, view=self._answer())

    def _check_record_event(self, command: RecordEventInput) -> None:
        """Reject, before anything reaches history, what needs no calendar to decide: the API checks the
        data too, but a client of Temporal itself must not get a value into history that the engine
        cannot read. (Validators never run on replay, so this check may grow without breaking replay.)"""
        if self._duplicate_of(command) is not None:
            return
        try:
            # Here only: the opening never moves, and the handler also replays events recorded before
            # this rule existed.
            check_not_before_opening(self._input.opened_at, command.type, command.occurred_at)
            self._precheck(command)
            check_event_data(command.type, command.data)
        except SlaError as error:
            raise rule_failure(error) from None

    async def _decide_correction(self, decision: DecideCorrection) -> RecordEventResult:
        """An insurer's auditor or an admin accepts a held event (it counts from now on, as if it had
        just arrived) or rejects it (it never counts); the decision is recorded either way."""
        self._updates_this_run += 1
        async with self._lock:
            review = self._review(decision.correction_id)
            try:
                decided = decide(review, decision.accept, decision.decided_by, workflow.now(), decision.note)
            except SlaError as error:
                raise rule_failure(error) from None
            await self._advance(reason=None, new_event=decided.event if decision.accept else None, decision=decided)
            if self._next_wake() != self._armed_wake or self._finished():
                self._changed = True
            return RecordEventResult(review.event.seq, self._revision, self._status(), view=self._answer())

    def _check_decide_correction(self, decision: DecideCorrection) -> None:
        try:
            review = self._review(decision.correction_id)
            if review.status is not ReviewStatus.PENDING:
                decide(review, decision.accept, decision.decided_by, workflow.now())  # raises: decided once
        except SlaError as error:
            raise rule_failure(error) from None

    def _review(self, correction_id: str) -> CorrectionReview:
        found = [r for r in self._reviews if r.correction_id == correction_id]
        if not found:
            raise rule_failure(
                EventNotAllowedError(f"no correction {correction_id!r} on this request", rule="correction.unknown")
            )
        return found[0]

    def _next_seq(self) -> int:
        """Held events take their seq when they arrive, so a seq is never given twice."""
        return max([e.seq for e in self._events] + [r.event.seq for r in self._reviews]) + 1

    async def _wait_opened(self, caller: str) -> RecordEventResult:
        """Returns once the first clock plan is computed and written: the API opens a request with
        update-with-start on this, so it answers with the view instead of polling the read model.
        Of several callers racing to open one request (one external_ref), the first one this
        workflow sees opened it; the others get `duplicate`."""
        if self._opened_by is None:
            self._opened_by = caller
        await workflow.wait_condition(lambda: self._revision > 0)
        return RecordEventResult(
            1, self._revision, self._status(), duplicate=caller != self._opened_by, view=self._answer()
        )

    def _calendar_changed(self, change: CalendarChanged) -> None:
        self._calendar_reasons.append(change.reason)
        self._calendar_generation = max(self._calendar_generation, change.generation)
        self._changed = True

    def _state(self) -> RequestState:
        return RequestState(self._view(), self._input.catalog_document, self._entry.version)

    def _projection(self) -> ProjectionState:
        """The state the last read-model write projected, with its position: `slatrack db rebuild`
        writes it again, a no-op where the stored row is already at that position."""
        return ProjectionState(
            self._view(),
            self._input.catalog_document,
            self._entry.version,
            PersonalData(self._input.policy_no, self._input.insured),
            self._written,
        )

    # -- helpers --------------------------------------------------------------------------------
    def _precheck(self, command: RecordEventInput) -> None:
        ticking = [c.clock_id for c in self._clocks if c.state in TICKING_STATES]
        precheck_event(
            self._entry,
            self._events,
            command.type,
            command.occurred_at,
            workflow.now(),
            ticking,
        )

    @staticmethod
    def _fingerprint_of(command: RecordEventInput) -> str:
        return f"{command.type}|{command.occurred_at.isoformat()}|{sorted(command.data.items())}"

    def _duplicate_of(self, command: RecordEventInput) -> int | None:
        if not command.idempotency_key or command.idempotency_key not in self._keys:
            return None
        seq, sent = self._keys[command.idempotency_key]
        if sent != self._fingerprint_of(command):
            raise rule_failure(
                EventNotAllowedError(
                    f"Idempotency-Key {command.idempotency_key!r} was already used for a different event (seq {seq})",
                    rule="event.idempotency_key_reused",
                )
            )
        return seq

    async def _advance(
        self,
        reason: str | None,
        new_event: RecordedEvent | None = None,
        backfill: list[RecordedEvent] | None = None,
        decision: CorrectionReview | None = None,
    ) -> str | None:
        """Let the local activity plan the clocks and project the request, then keep its answer.
        Returns the correction id when the new event was held for the insurer's review."""
        result = await self._advance_request(self._advance_input(reason, new_event, backfill or [], decision))
        status_before, clocks_before, corrections_before = self._status(), self._clocks, len(self._corrections)
        self._keep(result, new_event, backfill or [], decision)
        notifications = notifications_of(
            clocks_before,
            result.clocks,
            result.corrections,
            corrections_before,
            status_before,
            self._status(),
            workflow.now(),
            new_event.occurred_at if new_event else None,
        )
        if result.subscribed_kinds is not None:
            notifications = [n for n in notifications if n.kind in result.subscribed_kinds]
        if notifications and workflow.patched(NOTIFICATIONS_PATCH):
            await self._notify(
                NotifyInput(self._input.request_id, self._input.service_id, self._input.vendor_id, notifications)
            )
        return result.held.correction_id if result.held is not None else None

    def _advance_input(
        self,
        reason: str | None,
        new_event: RecordedEvent | None,
        backfill: list[RecordedEvent],
        decision: CorrectionReview | None,
    ) -> AdvanceInput:
        return AdvanceInput(
            view=self._view(),
            catalog_document=self._input.catalog_document,
            catalog_version=self._entry.version,
            now=workflow.now(),
            new_event=new_event,
            reason=reason,
            personal=PersonalData(self._input.policy_no, self._input.insured),
            history_length=workflow.info().get_current_history_length(),
            written=self._written,
            calendar_generation=self._calendar_generation,
            backfill=backfill,
            run=self._run,
            decision=decision,
        )

    async def _advance_request(self, change: AdvanceInput) -> AdvanceResult:
        """The local activity; a broken rule fails the update with it (not retried)."""
        try:
            return await workflow.execute_local_activity(
                advance_request,
                change,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_IO_RETRY,
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True) from None
            raise

    def _keep(
        self,
        result: AdvanceResult,
        new_event: RecordedEvent | None,
        backfill: list[RecordedEvent],
        decision: CorrectionReview | None,
    ) -> None:
        """The request as the activity planned and wrote it."""
        self._events += backfill
        if result.held is not None:
            self._reviews.append(result.held)  # recorded, without effect until the insurer accepts it
        elif new_event:
            self._events.append(new_event)
        if decision is not None:
            self._reviews = [decision if r.correction_id == decision.correction_id else r for r in self._reviews]
        self._clocks, self._fingerprint, self._calendar_sources = (
            result.clocks,
            result.calendar_fingerprint,
            result.calendar_sources,
        )
        self._corrections += result.corrections
        self._recomputes += result.recomputes
        self._revision = result.revision
        if result.position is not None:
            self._written = result.position

    async def _notify(self, notify: NotifyInput) -> None:
        """Start the vendor's deliveries; never wait for them. The local activity only starts one
        delivery workflow per subscribed webhook (an id per message, so a retry starts nothing twice):
        one marker in this history, whatever the receivers do."""
        try:
            await workflow.execute_local_activity(
                notify_vendor,
                notify,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=_IO_RETRY,
            )
        except ActivityError as error:  # non-retryable: a bug, never a receiver; the request goes on
            workflow.logger.warning("vendor notifications not started for %s: %s", notify.request_id, error.cause)

    def _next_wake(self) -> datetime | None:
        wakes = [c.next_wake_at for c in self._clocks if c.next_wake_at is not None]
        return min(wakes) if wakes else None

    def _status(self) -> RequestStatus:
        return request_status(e.type for e in self._events)

    def _finished(self) -> bool:
        """Closed, every clock closed, and no held event waiting for the insurer's decision."""
        return (
            self._status() is not RequestStatus.OPEN
            and all(c.state not in OPEN_STATES for c in self._clocks)
            and all(r.status is not ReviewStatus.PENDING for r in self._reviews)
        )

    def _answer(self) -> RequestView | None:
        """The view an update answers with, while the request is short enough to keep it in history."""
        if len(self._events) + len(self._reviews) > ANSWERED_VIEW_EVENTS:
            return None
        return self._view()

    def _view(self) -> RequestView:
        source = self._input
        return RequestView(
            request_id=source.request_id,
            service_id=source.service_id,
            vendor_id=source.vendor_id,
            insurer_id=source.insurer_id,
            status=self._status(),
            opened_at=source.opened_at,
            revision=self._revision,
            catalog_digest=source.catalog_digest,
            calendar_fingerprint=self._fingerprint,
            events=list(self._events),
            clocks=list(self._clocks),
            recomputes=list(self._recomputes),
            corrections=list(self._corrections),
            calendar_sources=dict(self._calendar_sources),
            external_ref=source.external_ref,
            reviews=list(self._reviews),
        )
