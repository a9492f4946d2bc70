"""The baselines the benches compare with: workflows of the same Temporal shape as a service request
that do nothing of their own.

- BareRequestWorkflow: a local activity at start, an update per event that runs a local activity,
  a closing update, then an activity at the end (as a request's archive): the Temporal cost of a
  request's lifecycle without planning, the read model or HTTP.
- BareTimerWorkflow: sleeps until an instant, then one local activity (as a breach is recorded), then
  stays open (as a breached request waits for its vendor): the local activity appends the instant it
  ran to the worker's stamp file, which the herd reads.

Run a worker for them: python -m bench.bare --address 127.0.0.1:7233 --task-queue bare
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@dataclass
class BareEvent:
    closes: bool


@activity.defn
def nothing(_: str) -> str:
    return "ok"


@dataclass
class Stamps:
    """When each timer's workflow resumed (wall clock, for the herd's lag), one line per timer."""

    path: str

    @activity.defn(name="stamp")
    def stamp(self, _: str) -> None:
        with open(self.path, "a") as stamps:  # one short O_APPEND write per line: never interleaved
            stamps.write(f"{time.time()}\n")


@workflow.defn
class BareRequestWorkflow:
    def __init__(self) -> None:
        self.closed = False
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self) -> None:
        async with self.lock:
            await workflow.execute_local_activity(nothing, "open", start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.execute_activity(nothing, "archive", start_to_close_timeout=timedelta(minutes=2))

    @workflow.update
    async def record(self, event: BareEvent) -> int:
        async with self.lock:
            await workflow.execute_local_activity(nothing, "event", start_to_close_timeout=timedelta(seconds=30))
            self.closed = self.closed or event.closes
            return 1


@workflow.defn
class BareTimerWorkflow:
    @workflow.run
    async def run(self, at: float) -> None:
        """`at`: the shared instant, as a POSIX timestamp."""
        await workflow.sleep(max(at - workflow.now().timestamp(), 0.0))
        await workflow.execute_local_activity(Stamps.stamp, "breach", start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: False)


async def serve(address: str, task_queue: str, max_cached_workflows: int, stamps: Stamps) -> None:
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[BareRequestWorkflow, BareTimerWorkflow],
        activities=[nothing, stamps.stamp],
        activity_executor=ThreadPoolExecutor(16),
        max_concurrent_local_activities=16,
        max_concurrent_activities=16,
        max_cached_workflows=max_cached_workflows,
    ):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", default="bare")
    parser.add_argument("--max-cached-workflows", type=int, default=1000, help="as the real worker's, for a fair herd")
    parser.add_argument("--stamps", required=True, help="append each timer's stamp to this file")
    args = parser.parse_args()
    asyncio.run(serve(args.address, args.task_queue, args.max_cached_workflows, Stamps(args.stamps)))


if __name__ == "__main__":
    main()
