"""ServiceRequestWorkflow: one per request. Holds the event log, sleeps until the next threshold.

Deadline arithmetic never runs here: the clock plan comes from a local activity, so every due
instant is recorded in history and a calendar change cannot alter how this code replays.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from sla.catalog.model import ServiceEntry
    from sla.catalog.parse import parse_service
    from sla.engine.changes import due_changes
    from sla.engine.model import ClockState
    from sla.engine.rules import precheck_event
    from sla.errors import EventNotAllowedError, SlaError
    from sla.events import EventType
    from workflows.messages import (
        ArchiveInput,
        CalendarChanged,
        ClockSnapshot,
        CorrectionRecord,
        EventRecord,
        PersonalData,
        PlanInput,
        PlanResult,
        ProjectionInput,
        RecomputeRecord,
        RecordEventInput,
        RecordEventResult,
        RequestView,
        ServiceRequestInput,
    )

COMPUTE_PLAN = "compute_clock_plan"
PROJECT_REQUEST = "project_request"
ARCHIVE_HISTORY = "archive_history"

_OPEN = {ClockState.PENDING.value, ClockState.RUNNING.value, ClockState.PAUSED.value}
_TICKING = {ClockState.RUNNING.value, ClockState.PAUSED.value}
_IO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def _as_application_error(error: SlaError) -> ApplicationError:
    return ApplicationError(error.message, error.to_dict(), type=type(error).__name__, non_retryable=True)


@workflow.defn
class ServiceRequestWorkflow:
    @workflow.init
    def __init__(self, input: ServiceRequestInput) -> None:
        self._input = input
        self._entry: ServiceEntry = parse_service(input.catalog_document, f"pinned {input.catalog_digest}")
        opened = EventRecord(EventType.REQUEST_OPENED.value, input.opened_at, 1, "system", input.opened_at)
        self._events: list[EventRecord] = [opened]
        self._clocks: list[ClockSnapshot] = []
        self._fingerprint = ""
        self._calendar_sources: dict[str, str] = {}
        self._recomputes: list[RecomputeRecord] = []
        self._corrections: list[CorrectionRecord] = []
        self._keys: dict[str, tuple[int, str]] = {}  # idempotency key -> (event seq, what was sent)
        self._revision = 0
        self._changed = False
        self._armed_wake: datetime | None = None
        self._calendar_reasons: list[str] = []
        self._lock = asyncio.Lock()

    # -- the loop: one updatable timer ------------------------------------------------------------
    @workflow.run
    async def run(self, input: ServiceRequestInput) -> RequestView:
        async with self._lock:
            await self._recompute(reason=None)
        while not self._finished():
            wake = self._armed_wake = self._next_wake()
            timeout = max(wake - workflow.now(), timedelta(0)) if wake else None
            with contextlib.suppress(TimeoutError):  # the timer fired: time to re-evaluate
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            async with self._lock:
                self._changed = False
                reasons, self._calendar_reasons = self._calendar_reasons, []
                if reasons:
                    await self._recompute(reason="; ".join(reasons))
                elif wake is not None and workflow.now() >= wake:
                    await self._recompute(reason=None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.execute_activity(
            ARCHIVE_HISTORY,
            ArchiveInput(input.request_id, workflow.info().workflow_id),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_IO_RETRY,
        )
        return self._view()

    # -- messages -------------------------------------------------------------------------------
    @workflow.update
    async def record_event(self, command: RecordEventInput) -> RecordEventResult:
        async with self._lock:
            duplicate = self._duplicate_of(command)
            if duplicate is not None:
                return RecordEventResult(duplicate, self._revision, self._status(), duplicate=True)
            try:
                self._precheck(command)  # again: the state may have moved while we waited for the lock
            except SlaError as error:
                raise _as_application_error(error) from None
            record = EventRecord(
                command.type,
                command.occurred_at,
                len(self._events) + 1,
                command.sender,
                workflow.now(),
                command.data,
                command.idempotency_key,
            )
            await self._recompute(reason=None, new_event=record)
            if command.idempotency_key:
                self._keys[command.idempotency_key] = (record.seq, self._fingerprint_of(command))
            if self._next_wake() != self._armed_wake or self._finished():
                self._changed = True  # re-arm the timer, or let the loop end
            return RecordEventResult(record.seq, self._revision, self._status())

    @record_event.validator
    def _validate_record_event(self, command: RecordEventInput) -> None:
        """Reject, before anything reaches history, what needs no calendar to decide."""
        if self._duplicate_of(command) is not None:
            return
        try:
            self._precheck(command)
        except SlaError as error:
            raise _as_application_error(error) from None

    @workflow.signal
    def calendar_changed(self, change: CalendarChanged) -> None:
        self._calendar_reasons.append(change.reason)
        self._changed = True

    @workflow.query
    def get_status(self) -> RequestView:
        return self._view()

    # -- helpers --------------------------------------------------------------------------------
    def _precheck(self, command: RecordEventInput) -> None:
        ticking = [c.clock_id for c in self._clocks if c.state in _TICKING]
        precheck_event(
            self._entry,
            [e.to_domain() for e in self._events],
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
            raise _as_application_error(
                EventNotAllowedError(
                    f"Idempotency-Key {command.idempotency_key!r} was already used for a different event (seq {seq})",
                    rule="event.idempotency_key_reused",
                )
            )
        return seq

    async def _recompute(self, reason: str | None, new_event: EventRecord | None = None) -> None:
        """Ask the engine (through the local activity) for the plan, then record what changed."""
        events = [*self._events, new_event] if new_event else self._events
        try:
            plan: PlanResult = await workflow.execute_local_activity(
                COMPUTE_PLAN,
                PlanInput(self._input.catalog_document, events, workflow.now(), new_event),
                result_type=PlanResult,
                start_to_close_timeout=timedelta(seconds=30),
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                raise ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True) from None
            raise
        if new_event:
            self._events.append(new_event)
        now = workflow.now()
        before = {c.clock_id: c for c in self._clocks}
        for clock in plan.clocks:
            old = before.get(clock.clock_id)
            if old is not None and old.outcome and old.outcome != clock.outcome:
                why = (
                    f"event {new_event.type} (seq {new_event.seq}) effective {new_event.occurred_at.isoformat()}"
                    if new_event
                    else reason or "recomputed"
                )
                self._corrections.append(CorrectionRecord(clock.clock_id, old.outcome, clock.outcome, why, now))
        if reason:
            moved = due_changes(
                {c.clock_id: (c.due_at, c.provisional) for c in self._clocks},
                [(c.clock_id, c.due_at, c.provisional) for c in plan.clocks],
            )
            self._recomputes += [
                RecomputeRecord(
                    m.clock_id, m.old_due_at, m.new_due_at, m.old_provisional, m.new_provisional, reason, now
                )
                for m in moved
            ]
        changed = plan.clocks != self._clocks or new_event is not None or plan.calendar_fingerprint != self._fingerprint
        self._clocks, self._fingerprint, self._calendar_sources = (
            plan.clocks,
            plan.calendar_fingerprint,
            plan.calendar_sources,
        )
        if changed or self._revision == 0:
            self._revision += 1
            first = self._revision == 1
            personal = PersonalData(self._input.policy_no, self._input.insured) if first else None
            pinned = self._input.catalog_document if first else None
            # Local: one marker in history instead of an activity round trip per change.
            await workflow.execute_local_activity(
                PROJECT_REQUEST,
                ProjectionInput(self._view(), self._entry.version, personal, pinned),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_IO_RETRY,
            )

    def _next_wake(self) -> datetime | None:
        wakes = [c.next_wake_at for c in self._clocks if c.next_wake_at is not None]
        return min(wakes) if wakes else None

    def _status(self) -> str:
        for event in self._events:
            if event.type == EventType.SERVICE_COMPLETED.value:
                return "completed"
            if event.type == EventType.CUSTOMER_CANCELLED.value:
                return "cancelled"
        return "open"

    def _finished(self) -> bool:
        return self._status() != "open" and all(c.state not in _OPEN for c in self._clocks)

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
        )
