"""ServiceRequestWorkflow: one per request. Holds the event log, sleeps until the next threshold.

Only the handlers Temporal calls are here; the request's state and every step are
ServiceRequestCore's (workflows/service_request_core.py). The sandbox imports this module again for
every workflow it runs, so what is written here is held once per cached request: keep it to the
handlers. The core is passed through the sandbox and loaded once per worker.

No `from __future__ import annotations`: the sandbox imports this module again for every run,
and the SDK would then evaluate the string annotations of every handler each time.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # The modules of the types this workflow's payloads hold, in the sandbox's own module table: the
    # payload converter resolves their annotations there (the core's imports do not reach it).
    import sla.engine.changes
    import sla.engine.model
    import sla.engine.review
    import sla.events
    import sla.notifications
    from workflows.messages import (
        CalendarChanged,
        DecideCorrection,
        ProjectionState,
        RecordEventInput,
        RecordEventResult,
        RequestState,
        RequestView,
        ServiceRequestInput,
    )
    from workflows.service_request_core import CONTINUE_AS_NEW_PATCH, NOTIFICATIONS_PATCH, ServiceRequestCore

__all__ = ["CONTINUE_AS_NEW_PATCH", "NOTIFICATIONS_PATCH", "ServiceRequestWorkflow"]
_PAYLOAD_MODULES = (sla.engine.changes, sla.engine.model, sla.engine.review, sla.events, sla.notifications)


@workflow.defn
class ServiceRequestWorkflow(ServiceRequestCore):
    @workflow.init
    def __init__(self, input: ServiceRequestInput) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: ServiceRequestInput) -> RequestView:
        return await self._run_request(input)

    @workflow.update
    async def record_event(self, command: RecordEventInput) -> RecordEventResult:
        return await self._record_event(command)

    @record_event.validator
    def _validate_record_event(self, command: RecordEventInput) -> None:
        self._check_record_event(command)

    @workflow.update
    async def decide_correction(self, decision: DecideCorrection) -> RecordEventResult:
        return await self._decide_correction(decision)

    @decide_correction.validator
    def _validate_decide_correction(self, decision: DecideCorrection) -> None:
        self._check_decide_correction(decision)

    @workflow.update
    async def wait_opened(self, caller: str) -> RecordEventResult:
        return await self._wait_opened(caller)

    @workflow.signal
    def calendar_changed(self, change: CalendarChanged) -> None:
        self._calendar_changed(change)

    @workflow.query
    def get_status(self) -> RequestView:
        return self._view()

    @workflow.query
    def get_state(self) -> RequestState:
        return self._state()

    @workflow.query
    def get_projection(self) -> ProjectionState:
        return self._projection()
