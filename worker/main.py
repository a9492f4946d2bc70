"""Run the worker until SIGTERM or SIGINT, then finish in-flight tasks and exit."""

from __future__ import annotations

import asyncio
import logging
import signal

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from runtime.process import exit_after_temporal
from runtime.settings import TemporalSettings, get_settings
from runtime.temporal import connect
from store.db import init_schema, make_engine
from worker.build import build_worker

log = logging.getLogger("slatrack.worker")


def metrics_runtime(bind: str) -> Runtime:
    """SDK metrics in Prometheus conventions: seconds, `_total` counters, unit suffixes."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind, counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True
            )
        )
    )


async def serve() -> None:
    settings = get_settings()
    temporal = TemporalSettings()
    engine = make_engine(settings.database_url)
    init_schema(engine)
    client = await connect(temporal, runtime=metrics_runtime(settings.worker_metrics_bind))
    worker = build_worker(client, settings, engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker on %s namespace %s queue %s, metrics http://%s/metrics, cache %d workflows",
        temporal.address,
        temporal.namespace,
        settings.task_queue,
        settings.worker_metrics_bind,
        settings.max_cached_workflows,
    )
    async with worker:
        await stop.wait()
        log.info("stopping: finishing in-flight tasks")
    log.info("stopped")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve())
    exit_after_temporal(0)
