"""Worker memory per cached ServiceRequestWorkflow, against a bare workflow in the same run: RSS before
and after N open requests, then before and after N bare workflows (bench/bare.py's BareRequestWorkflow,
opened by an update as a request is) on a worker in the same process.

Run: python -m bench.worker_memory [--requests 300] [--trace] [--sandbox]
Both run as the worker does by default, unsandboxed; `--sandbox`: both in Temporal's sandbox.
Each request has running clocks and a pending timer, and is queried once so it sits in the
worker's cache. The result sizes SLA_WORKER_CACHE_BUDGET_MIB / max_cached_workflows.
`--trace`: also what the requests' Python objects are, by the file that allocated them (tracemalloc,
one frame: slower, and RSS then includes tracemalloc's own bookkeeping).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import gc
import tempfile
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from adapters.catalog_files import default_catalog
from bench.bare import BareEvent, BareRequestWorkflow, nothing
from clients.opening import open_request
from harness.keys import TEST_KEYS_SETTING
from harness.servers import start_time_skipping
from runtime.settings import Settings
from store.db import init_schema, make_engine
from worker.build import build_worker, workflow_runner
from workflows.messages import Insured, RequestView
from workflows.service_request import ServiceRequestWorkflow

ROOT = Path(__file__).resolve().parents[1]
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


async def open_bare(client: Client, task_queue: str) -> None:
    start = WithStartWorkflowOperation(
        BareRequestWorkflow.run,
        id=f"bare-{uuid.uuid4().hex}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    await client.execute_update_with_start_workflow(
        BareRequestWorkflow.record, BareEvent(False), start_workflow_operation=start
    )


async def per_workflow_kib(count: int, open_one: Callable[[], Awaitable[None]], trace: bool) -> float:
    """RSS growth per workflow over `count` cached ones (one opened first, so first-use costs are out)."""
    await open_one()
    gc.collect()
    if trace:
        tracemalloc.start(1)
    before, snapshot = rss_kib(), tracemalloc.take_snapshot() if trace else None
    for _ in range(count):
        await open_one()
    gc.collect()
    after = rss_kib()
    if snapshot is not None:
        _print_allocations(snapshot, count)
        tracemalloc.stop()
    return (after - before) / count


def _print_allocations(before: tracemalloc.Snapshot, count: int) -> None:
    differences = tracemalloc.take_snapshot().compare_to(before, "filename")
    print(f"  Python objects per workflow: {sum(d.size_diff for d in differences) / count / 1024:.1f} KiB, of which")
    for difference in differences[:12]:
        print(f"  {difference.size_diff / count / 1024:8.1f} KiB  {difference.traceback}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--sandbox", action="store_true", help="run the requests in the sandbox (SLA_WORKFLOW_SANDBOX)")
    args = parser.parse_args()
    # As `make bytecode` and the image do: the sandbox loads the workflow module's code per run.
    for package in ("sla", "workflows", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)
    env = await start_time_skipping()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/db.sqlite",
            calendar_dir=Path(tmp),
            payload_keys=TEST_KEYS_SETTING,
            task_queue="bench-memory",
            worker_cache_budget_mib=1024,
            workflow_sandbox=args.sandbox,
        )
        engine = make_engine(settings.database_url)
        init_schema(engine)
        bare_worker = Worker(
            env.client,
            task_queue="bench-memory-bare",
            workflows=[BareRequestWorkflow],
            activities=[nothing],
            activity_executor=ThreadPoolExecutor(max_workers=4),
            max_cached_workflows=settings.max_cached_workflows,
            workflow_runner=workflow_runner(args.sandbox),
        )
        async with build_worker(env.client, settings, engine), bare_worker:
            now = await env.get_current_time()

            async def request() -> None:
                handle = await open_workflow(env.client, settings.task_queue, now)
                await handle.query(ServiceRequestWorkflow.get_status)

            ours = await per_workflow_kib(args.requests, request, args.trace)
            bare = await per_workflow_kib(args.requests, lambda: open_bare(env.client, "bench-memory-bare"), False)
    await env.shutdown()
    print(
        f"{args.requests} cached open requests, {'sandboxed' if args.sandbox else 'unsandboxed'}: {ours:.1f} KiB per"
        f" cached request, bare workflow in the same runner {bare:.1f} KiB ({ours / bare:.2f}x)"
        + (" (RSS not comparable under --trace)" if args.trace else "")
    )


if __name__ == "__main__":
    asyncio.run(main())
