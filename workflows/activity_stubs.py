"""The activities the workflows call, as typed references: the same names, inputs and results as the
implementations in activities/, without their imports (the database, HTTP), which a workflow module
must never pull into the sandbox. The workflows call these, so mypy checks every hand-off;
tests/workflows/test_activity_stubs.py checks that each stub and its implementation agree.

A stub never runs: the worker registers the implementations under the same names.
"""

from temporalio import activity

from workflows.messages import (
    AdvanceInput,
    AdvanceResult,
    ArchiveInput,
    DeliveryInput,
    DeliveryResult,
    NotifyInput,
    NotifyResult,
)

_RUNS_ON_THE_WORKER = "a stub: the worker runs the implementation registered under this name (activities/)"


@activity.defn(name="advance_request")
def advance_request(change: AdvanceInput) -> AdvanceResult:
    """Plan the clocks, work out corrections and moved deadlines, write the read model (activities/advance.py)."""
    raise NotImplementedError(_RUNS_ON_THE_WORKER)


@activity.defn(name="archive_history")
async def archive_history(request: ArchiveInput) -> str:
    """Copy the workflow's history into the database (activities/archive.py)."""
    raise NotImplementedError(_RUNS_ON_THE_WORKER)


@activity.defn(name="notify_vendor")
async def notify_vendor(notify: NotifyInput) -> NotifyResult:
    """Start one delivery workflow per notification and subscribed webhook (activities/notify.py)."""
    raise NotImplementedError(_RUNS_ON_THE_WORKER)


@activity.defn(name="deliver_webhook")
async def deliver_webhook(delivery: DeliveryInput) -> DeliveryResult:
    """POST one signed message to one webhook (activities/notify.py)."""
    raise NotImplementedError(_RUNS_ON_THE_WORKER)


@activity.defn(name="record_delivery_failure")
async def record_delivery_failure(delivery: DeliveryInput, reason: str) -> DeliveryResult:
    """Record that a delivery ended without success (activities/notify.py)."""
    raise NotImplementedError(_RUNS_ON_THE_WORKER)
