"""One function assembles the worker, for `python -m worker`, `slatrack worker` and the tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.advance import RequestActivities
from activities.archive import ArchiveActivities
from activities.calendar_source import CalendarSource
from activities.plan import ClockPlanner
from activities.projection import ProjectionWriter
from runtime.codec import EncryptionCodec
from runtime.settings import Settings
from workflows.service_request import ServiceRequestWorkflow


def build_worker(client: Client, settings: Settings, engine: Engine, *, task_queue: str | None = None) -> Worker:
    requests = RequestActivities(
        ClockPlanner(CalendarSource(settings.calendar_dir, engine)),
        ProjectionWriter(engine, EncryptionCodec(settings.keys())),
    )
    archive = ArchiveActivities(client, engine)
    # advance_request is synchronous (it writes the read model): it runs on these threads, never on
    # the event loop that runs workflow tasks. The database pool (store.db) covers them.
    threads = settings.activity_threads
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[ServiceRequestWorkflow],
        activities=[requests.advance_request, archive.archive_history],
        activity_executor=ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activity"),
        max_concurrent_local_activities=threads,
        max_concurrent_activities=threads,
        max_cached_workflows=settings.max_cached_workflows,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )
