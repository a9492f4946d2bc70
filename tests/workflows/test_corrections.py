"""A held correction in the workflow (issue 24, item 2), on the time-skipping server with the review
on: the 48-hour clock breaches on its timer, a stop dated an hour before the due is held, the request
closes but its workflow waits for the insurer, and only the insurer's acceptance makes the breach met."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from store.models import ClockOutcomeRow, CorrectionReviewRow, CorrectionRow
from tests.helpers import finish, open_workflow, rows, send_update
from worker.build import build_worker
from workflows.messages import DecideCorrection
from workflows.service_request import ServiceRequestWorkflow

OUTPATIENT = "pingan_health.green_channel.outpatient"


async def test_a_held_stop_changes_nothing_until_the_insurer_accepts_it_and_the_request_waits_for_that(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    reviewing = settings.model_copy(update={"review_corrections": True, "late_event_review_working_days": 2})
    async with build_worker(env.client, reviewing, engine):
        opened = await env.get_current_time()
        handle = await open_workflow(env.client, reviewing.task_queue, OUTPATIENT, opened)
        request_id = handle.id.removeprefix("request-")
        await env.sleep(timedelta(hours=49))  # inform_status (48 h) breaches on its timer
        held = await send_update(handle, "customer_confirmed", opened + timedelta(hours=47))
        assert held.result.held == f"event-{held.event_seq}"
        inform = next(c for c in held.view.clocks if c.clock_id == "inform_status")
        assert inform.state == "breached"
        now = await env.get_current_time()
        await send_update(handle, "expert_confirmed", now)
        closed = await send_update(handle, "service_completed", now)
        assert closed.view.status == "completed"
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING  # the insurer has not decided
        [breach] = rows(engine, ClockOutcomeRow, request_id=request_id, clock_id="inform_status")
        assert breach.outcome == "breached"

        await handle.execute_update(
            ServiceRequestWorkflow.decide_correction,
            DecideCorrection(held.result.held, True, "auditor:pingan_health:k1", "call log seen"),
        )
        final = await finish(env, handle)
    assert next(c for c in final.clocks if c.clock_id == "inform_status").state == "met"
    [review] = final.reviews
    assert (review.status, review.decided_by) == ("accepted", "auditor:pingan_health:k1")
    [met] = rows(engine, ClockOutcomeRow, request_id=request_id, clock_id="inform_status")
    assert met.outcome == "met"
    [correction] = rows(engine, CorrectionRow, request_id=request_id, clock_id="inform_status")
    assert (correction.previous, correction.current) == ("breached", "met")
    assert "accepted by auditor:pingan_health:k1" in correction.reason
    [stored] = rows(engine, CorrectionReviewRow, request_id=request_id)
    assert (stored.status, stored.decided_by, stored.note) == ("accepted", "auditor:pingan_health:k1", "call log seen")
