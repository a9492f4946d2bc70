"""The request workflows run outside Temporal's sandbox unless SLA_WORKFLOW_SANDBOX asks for it, and the
worker's cache is sized by what a cached request takes in that runner (issue 25 item 6)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from runtime.settings import Settings
from worker.build import build_worker


async def test_the_request_worker_runs_its_workflows_unsandboxed_unless_the_sandbox_is_asked_for(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    for sandboxed, runner in ((False, UnsandboxedWorkflowRunner), (True, SandboxedWorkflowRunner)):
        chosen = settings.model_copy(update={"workflow_sandbox": sandboxed})
        workers = build_worker(env.client, chosen, engine, task_queue=f"{settings.task_queue}-{sandboxed}")
        requests, webhooks = workers.workers
        assert isinstance(requests.config()["workflow_runner"], runner)
        # Deliveries are tiny workflows: they keep the SDK's default runner either way.
        assert isinstance(webhooks.config()["workflow_runner"], SandboxedWorkflowRunner)


def test_the_cache_holds_the_budget_over_what_a_cached_request_takes_in_its_runner() -> None:
    """bench/worker_memory.py: 89-100 KiB per cached request unsandboxed, 113-124 KiB sandboxed."""
    assert Settings(worker_cache_budget_mib=512).max_cached_workflows == 4096
    assert Settings(worker_cache_budget_mib=512, workflow_sandbox=True).max_cached_workflows == 2621
    assert Settings(worker_cache_budget_mib=512, worker_kib_per_cached_workflow=256).max_cached_workflows == 2048
    assert Settings(worker_cache_budget_mib=8).max_cached_workflows == 100  # never fewer


async def test_the_request_worker_takes_as_many_workflow_tasks_at_once_as_the_settings_say(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    """A deadline herd wakes thousands at once: with the SDK's 100 slots, 30 % of 2,000 waited on the
    sticky queue until Temporal timed them out (bench/herd.py); SLA_WORKFLOW_TASK_SLOTS sets it."""
    assert Settings().workflow_task_slots == 1000
    chosen = settings.model_copy(update={"workflow_task_slots": 450})
    requests, _ = build_worker(env.client, chosen, engine, task_queue=f"{settings.task_queue}-slots").workers
    assert requests.config()["max_concurrent_workflow_tasks"] == 450
