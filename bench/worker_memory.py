"""Worker memory per cached ServiceRequestWorkflow: RSS before and after N open requests.

Run: python -m bench.worker_memory [--requests 300]
Each request has running clocks and a pending timer, and is queried once so it sits in the
worker's cache. The result sizes SLA_WORKER_CACHE_BUDGET_MIB / max_cached_workflows.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from adapters.catalog_files import default_catalog
from clients.opening import open_request
from harness.keys import TEST_KEYS_SETTING
from harness.servers import start_time_skipping
from runtime.settings import Settings
from store.db import init_schema, make_engine
from worker.build import build_worker
from workflows.messages import Insured, RequestView
from workflows.service_request import ServiceRequestWorkflow

SERVICE = "pingan_health.green_channel.admission"
INSURED = Insured(name="内存测试张三", id_number="110101199003071234")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_workflow(client: Client, task_queue: str, opened_at: datetime) -> WorkflowHandle[Any, RequestView]:
    """Start a request as the API does (clients.opening)."""
    return await open_request(
        client,
        default_catalog(),
        task_queue=task_queue,
        service_id=SERVICE,
        vendor_id="vendor-reliable",
        policy_no="POLICY-MEMORY-0001",
        insured=INSURED,
        opened_at=opened_at,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    env = await start_time_skipping()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/db.sqlite",
            calendar_dir=Path(tmp),
            payload_keys=TEST_KEYS_SETTING,
            task_queue="bench-memory",
            worker_cache_budget_mib=1024,
        )
        engine = make_engine(settings.database_url)
        init_schema(engine)
        async with build_worker(env.client, settings, engine):
            now = await env.get_current_time()
            warm = await open_workflow(env.client, settings.task_queue, now)
            await warm.query(ServiceRequestWorkflow.get_status)
            gc.collect()
            before = rss_kib()
            handles = [await open_workflow(env.client, settings.task_queue, now) for _ in range(args.requests)]
            for handle in handles:
                await handle.query(ServiceRequestWorkflow.get_status)
            gc.collect()
            after = rss_kib()
    await env.shutdown()
    print(
        f"{args.requests} cached open requests: RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB, "
        f"{(after - before) / args.requests:.1f} KiB per cached workflow"
    )


if __name__ == "__main__":
    asyncio.run(main())
