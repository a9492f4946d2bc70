"""One function assembles the worker, for `python -m worker`, `slatrack worker` and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.advance import RequestActivities
from activities.archive import ArchiveActivities
from activities.notify import NotifyActivities
from activities.projection import ProjectionWriter
from runtime.codec import EncryptionCodec
from runtime.settings import Settings
from store.calendar import CalendarSource
from workflows.service_request import ServiceRequestWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow


class Workers:
    """The request worker and the webhook-delivery worker, run and stopped together (the surface of
    one temporalio Worker: `async with`, `run()`, `shutdown()`). Deliveries have their own task queue
    and slots, so a slow receiver never takes the slots of the request workflows or their activities."""

    def __init__(self, *workers: Worker) -> None:
        self.workers = workers

    @property
    def task_queue(self) -> str:
        return self.workers[0].task_queue

    async def run(self) -> None:
        await asyncio.gather(*(worker.run() for worker in self.workers))

    async def shutdown(self) -> None:
        await asyncio.gather(*(worker.shutdown() for worker in self.workers))

    async def __aenter__(self) -> Workers:
        for worker in self.workers:
            await worker.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for worker in reversed(self.workers):
            await worker.__aexit__(exc_type, exc, tb)


def registered_activities() -> list[Callable[..., Any]]:
    """The activity implementations the workers register (by class), for the check that each matches
    the typed stub the workflows call (workflows/activity_stubs.py)."""
    return [
        RequestActivities.advance_request,
        ArchiveActivities.archive_history,
        NotifyActivities.notify_vendor,
        NotifyActivities.deliver_webhook,
        NotifyActivities.record_delivery_failure,
    ]


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """Temporal's sandbox (its guard against non-deterministic calls, at a cost in CPU and memory) or none."""
    return SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner()


def build_worker(client: Client, settings: Settings, engine: Engine, *, task_queue: str | None = None) -> Workers:
    codec = EncryptionCodec(settings.keys())
    requests = RequestActivities(
        CalendarSource(settings.calendar_dir, engine),
        ProjectionWriter(engine, codec),
        settings.late_event_review_working_days if settings.review_corrections else None,
    )
    archive = ArchiveActivities(client, engine)
    queue = task_queue or settings.task_queue
    webhook_queue = f"{queue}-webhooks"
    notify = NotifyActivities(
        client, engine, codec, webhook_queue, settings.view_base_url, allow_loopback=settings.webhook_allow_loopback
    )
    # advance_request is synchronous (it writes the read model): it runs on these threads, never on
    # the event loop that runs workflow tasks. The database pool (store.db) covers them.
    threads = settings.activity_threads
    requests_worker = Worker(
        client,
        task_queue=queue,
        workflows=[ServiceRequestWorkflow],
        workflow_runner=workflow_runner(settings.workflow_sandbox),
        activities=[requests.advance_request, archive.archive_history, notify.notify_vendor],
        activity_executor=ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity"),
        max_concurrent_local_activities=threads,
        max_concurrent_activities=threads,
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_workflow_tasks=settings.workflow_task_slots,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )
    # Deliveries: async HTTP (no threads), many at once; a delivery workflow is tiny, so few are cached.
    webhooks_worker = Worker(
        client,
        task_queue=webhook_queue,
        workflows=[WebhookDeliveryWorkflow],
        activities=[notify.deliver_webhook, notify.record_delivery_failure],
        max_concurrent_activities=settings.webhook_concurrency,
        max_cached_workflows=100,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )
    return Workers(requests_worker, webhooks_worker)
