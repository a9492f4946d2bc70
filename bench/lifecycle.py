"""Request lifecycles per second through HTTP, against a bare workflow of the same Temporal shape, on
one dev server in the same run; and CPU per lifecycle (server + worker + API, from /proc).

Run: python -m bench.lifecycle [--count 120] [--clients 10 50] [--alternate ROUNDS]

A lifecycle (pingan_health.green_channel.admission): open (update-with-start), customer_confirmed,
hospital_confirmed, service_completed, then the workflow archives its history and ends. The bare
lifecycle (bench/bare.py): update-with-start, the same three updates each running a local activity
that does nothing, an activity at the end. Each client runs lifecycles one after another; the rate is
lifecycles completed (workflows closed) per second. Also with two worker processes on the queue.
Targets (issue 9): >= 0.8x the bare rate, CPU <= 2x the bare CPU per lifecycle.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from statistics import median

import httpx
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy

from bench.bare import BareEvent, BareRequestWorkflow
from bench.processes import VENDOR, Bench, side_by_side
from sla.calendar.timeutil import SHANGHAI

SERVICE = "pingan_health.green_channel.admission"
EVENTS = ("customer_confirmed", "hospital_confirmed", "service_completed")


LATENCY: dict[str, list[float]] = {}


def _timed(kind: str, started: float) -> None:
    LATENCY.setdefault(kind, []).append(time.perf_counter() - started)


@dataclass
class Result:
    name: str
    clients: int
    lifecycles: int
    seconds: float
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.lifecycles / self.seconds

    @property
    def cpu_per_lifecycle_ms(self) -> float:
        return sum(self.cpu.values()) / self.lifecycles * 1000


async def _run_clients(clients: int, count: int, one: Callable[[int], Awaitable[str]]) -> list[str]:
    queue = list(range(count))
    ids: list[str] = []

    async def client() -> None:
        while queue:
            ids.append(await one(queue.pop()))

    await asyncio.gather(*(client() for _ in range(clients)))
    return ids


async def _wait_closed(client: Client, workflow_ids: list[str]) -> None:
    for workflow_id in workflow_ids:
        handle = client.get_workflow_handle(workflow_id)
        while (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await asyncio.sleep(0.05)


async def ours(bench: Bench, client: Client, clients: int, count: int, name: str) -> Result:
    headers = {"Authorization": f"Bearer {bench.keys['coordinator']}"}
    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(base_url=bench.api_url, timeout=120, limits=limits) as http:

        async def lifecycle(_: int) -> str:
            started = time.perf_counter()
            opened = await http.post(
                "/v1/requests",
                json={
                    "service_id": SERVICE,
                    "vendor_id": VENDOR,
                    "policy_no": "P-BENCH-1",
                    "insured": {"name": "压测", "id_number": "110101199001011234"},
                },
                headers=headers,
            )
            assert opened.status_code == 201, opened.text
            _timed(f"{name} open", started)
            request_id = opened.json()["id"]
            for event in EVENTS:
                body = {"type": event, "occurred_at": datetime.now(SHANGHAI).isoformat()}
                started = time.perf_counter()
                sent = await http.post(f"/v1/requests/{request_id}/events", json=body, headers=headers)
                assert sent.status_code == 200, sent.text
                _timed(f"{name} event", started)
            return f"request-{request_id}"

        before, started = bench.cpu(), time.perf_counter()
        ids = await _run_clients(clients, count, lifecycle)
        await _wait_closed(client, ids)
        seconds, after = time.perf_counter() - started, bench.cpu()
    cpu = {k: after[k] - before.get(k, 0.0) for k in after if k != "bare-worker"}
    return Result(name, clients, count, seconds, cpu)


async def bare(bench: Bench, client: Client, clients: int, count: int) -> Result:
    async def lifecycle(_: int) -> str:
        workflow_id = f"bare-{uuid.uuid4().hex}"
        start = WithStartWorkflowOperation(
            BareRequestWorkflow.run,
            id=workflow_id,
            task_queue="bench-bare",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        started = time.perf_counter()
        await client.execute_update_with_start_workflow(
            BareRequestWorkflow.record, BareEvent(False), start_workflow_operation=start
        )
        _timed("bare open", started)
        handle = client.get_workflow_handle(workflow_id)
        for index in range(len(EVENTS)):
            started = time.perf_counter()
            await handle.execute_update(BareRequestWorkflow.record, BareEvent(index == len(EVENTS) - 1))
            _timed("bare event", started)
        return workflow_id

    before, started = bench.cpu(), time.perf_counter()
    ids = await _run_clients(clients, count, lifecycle)
    await _wait_closed(client, ids)
    seconds, after = time.perf_counter() - started, bench.cpu()
    cpu = {k: after[k] - before.get(k, 0.0) for k in ("temporal", "bare-worker")}
    return Result("bare", clients, count, seconds, cpu)


def _per_lifecycle(result: Result) -> str:
    return ", ".join(f"{name} {seconds / result.lifecycles * 1000:.0f}" for name, seconds in sorted(result.cpu.items()))


async def _alternate(bench: Bench, plain: Client, ours_client: Client, args: argparse.Namespace) -> None:
    """Bare and ours in turn, `--alternate` rounds per client count, so a change in the machine's load
    falls on both: each round's ratios and each process's CPU per lifecycle, then the median ratios."""
    for clients in args.clients:
        rates, cpus = [], []
        for round_no in range(args.alternate):
            base = await bare(bench, plain, clients, args.count)
            mine = await ours(bench, ours_client, clients, args.count, "ours, 1 worker")
            rates.append(mine.rate / base.rate)
            cpus.append(mine.cpu_per_lifecycle_ms / base.cpu_per_lifecycle_ms)
            print(
                f"{clients} clients, round {round_no}: rate {rates[-1]:.2f}x, CPU {cpus[-1]:.2f}x"
                f" (ms a lifecycle, ours: {_per_lifecycle(mine)}; bare: {_per_lifecycle(base)})"
            )
        print(f"{clients} clients, median of {args.alternate}: rate {median(rates):.2f}x, CPU {median(cpus):.2f}x bare")


async def _main(args: argparse.Namespace) -> None:
    bench = Bench()
    try:
        plain, ours_client = await side_by_side(bench)
        await ours(bench, ours_client, 4, 8, "warm-up")
        await bare(bench, plain, 4, 8)
        if args.alternate:
            await _alternate(bench, plain, ours_client, args)
            return
        results: list[Result] = []
        for clients in args.clients:
            results.append(await bare(bench, plain, clients, args.count))
            results.append(await ours(bench, ours_client, clients, args.count, "ours, 1 worker"))
        bench.start_worker("bench-ours", name="worker-2")
        await asyncio.sleep(3)
        for clients in args.clients:
            results.append(await ours(bench, ours_client, clients, args.count, "ours, 2 workers"))
        header = f"{'lifecycles':22}{'clients':>8}{'per s':>8}{'vs bare':>9}{'CPU ms':>9}{'vs bare':>9}"
        print(f"\n{header}  CPU by process (s)")
        baseline = {r.clients: r for r in results if r.name == "bare"}
        for r in results:
            base = baseline[r.clients]
            split = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r.cpu.items()))
            print(
                f"{r.name:22}{r.clients:8}{r.rate:8.2f}{r.rate / base.rate:9.2f}"
                f"{r.cpu_per_lifecycle_ms:9.0f}{r.cpu_per_lifecycle_ms / base.cpu_per_lifecycle_ms:9.2f}  {split}"
            )
        print("\nmedian latency per call (ms):")
        for kind, values in LATENCY.items():
            ordered = sorted(values)
            median, p90 = ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.9)] * 1000
            print(f"  {kind:28} {median:7.1f}  (p90 {p90:.1f})")
    finally:
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--alternate", type=int, default=0, help="rounds of bare and ours in turn (1 worker)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
