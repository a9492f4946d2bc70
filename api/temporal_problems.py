"""What a Temporal failure means to the API's caller, once for every command (open, send an event,
decide a held correction): a workflow's refusal as the rule it broke, an unreachable or busy
Temporal as a 503 that says what to repeat, a closed request as a 409. Each command keeps only what
is its own: the key it repeats with and the rule of its closed request."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem, from_application_error, is_unreachable, unavailable

UPDATE_TIMEOUT = timedelta(seconds=15)
# Temporal's RESOURCE_EXHAUSTED: it took nothing (e.g. a workflow already has 10 updates in flight,
# which a burst of events meets while no worker can take them).
BUSY = "this request has too many calls in progress; nothing was recorded"
# A run refuses updates past Temporal's per-run limit (history.maxTotalUpdates) while it hands over to
# its next run (workflows/service_request.py continues as new before it): the same Update, sent again
# a moment later, lands on the new run. Measured with the limit at 40 and 10 concurrent senders: 3 of
# 120 events met it once, none twice.
RUN_UPDATE_LIMIT_RETRIES = (0.2, 0.5, 1.0, 2.0)


def run_update_limit(error: RPCError) -> bool:
    return error.status is RPCStatusCode.FAILED_PRECONDITION and "limit on the total number" in error.message


async def execute_update(handle: WorkflowHandle[Any, Any], update: Any, argument: Any, update_id: str) -> Any:
    """The Update, sent again after a pause while the run is at its update limit (handing over)."""
    for pause in (*RUN_UPDATE_LIMIT_RETRIES, None):
        try:
            return await handle.execute_update(update, argument, id=update_id, rpc_timeout=UPDATE_TIMEOUT)
        except RPCError as error:
            if pause is None or not run_update_limit(error):
                raise
            await asyncio.sleep(pause)


def rule_problem(failure: WorkflowUpdateFailedError) -> Problem:
    """The workflow refused the Update: the rule it broke, as the domain named it."""
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else None
        return from_application_error(cause.type, cause.message, details)
    return Problem(409, "Conflict", "the workflow refused the event", rule="event.refused")


def rpc_problem(
    error: RPCError, *, busy_retry: str, closed: Problem | None = None, headers: dict[str, str] | None = None
) -> Problem | None:
    """Temporal did not take the call: unreachable or busy (503, with how to repeat it: `busy_retry`
    and `headers`), or the request's workflow is gone (`closed`). None for anything else: the caller
    re-raises it."""
    if is_unreachable(error):
        return unavailable().with_headers(headers or {})
    if error.status is RPCStatusCode.RESOURCE_EXHAUSTED or run_update_limit(error):
        return unavailable(f"{BUSY}: {busy_retry}").with_headers(headers or {})
    if error.status is RPCStatusCode.NOT_FOUND:
        return closed
    return None
