"""Replay cost of the saved histories (tests/histories), as a running worker pays it on a cache miss.

Run: python -m bench.replay [--rounds 15]

One Replayer replays the corpus round after round (worker set-up paid once, as in a worker), and
each history's time is its own replay. Three converters/runners in the same run:
  baseline   the SDK's default JSON converter, sandboxed (what we used before)
  ours       runtime.build_data_converter (pydantic JSON, one TypeAdapter cache per process), sandboxed
  floor      ours, unsandboxed: what the sandbox adds on top, for reference only (we keep it on)
Prints min and median per history and the ratio baseline/ours. Issue 3's budget is 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from harness.keys import TEST_KEYS
from runtime.codec import EncryptionCodec
from runtime.temporal import build_data_converter
from workflows.service_request import ServiceRequestWorkflow

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "histories"


def load_corpus(directory: Path = CORPUS) -> dict[str, WorkflowHistory]:
    return {
        path.stem: WorkflowHistory.from_json(f"request-{path.stem}", path.read_text())
        for path in sorted(directory.glob("*.json"))
    }


async def time_replays(
    histories: dict[str, WorkflowHistory],
    converter: DataConverter,
    rounds: int,
    runner: WorkflowRunner | None = None,
) -> dict[str, list[float]]:
    """Seconds per replay of each history, `rounds` times, through one replay worker.

    A first warm-up round (imports, sandbox set-up) is not counted. Fails on any replay failure."""
    replayer = Replayer(
        workflows=[ServiceRequestWorkflow],
        data_converter=converter,
        workflow_runner=runner or SandboxedWorkflowRunner(),
    )
    order = [name for _ in range(rounds + 1) for name in histories]

    async def feed() -> AsyncIterator[WorkflowHistory]:
        for name in order:
            yield histories[name]

    timings: dict[str, list[float]] = {name: [] for name in histories}
    async with replayer.workflow_replay_iterator(feed()) as results:
        index, last = 0, time.perf_counter()
        async for result in results:
            now = time.perf_counter()
            if result.replay_failure is not None:
                raise result.replay_failure
            if index >= len(histories):  # past the warm-up round
                timings[order[index]].append(now - last)
            index, last = index + 1, now
    return timings


def sdk_default_converter() -> DataConverter:
    return dataclasses.replace(DataConverter.default, payload_codec=EncryptionCodec(TEST_KEYS))


async def run(rounds: int) -> None:
    histories = load_corpus()
    variants = {
        "baseline": await time_replays(histories, sdk_default_converter(), rounds),
        "ours": await time_replays(histories, build_data_converter(TEST_KEYS), rounds),
        "floor": await time_replays(histories, build_data_converter(TEST_KEYS), rounds, UnsandboxedWorkflowRunner()),
    }
    print(f"{rounds} rounds; ms per replay, min / median")
    print(f"{'history':15s} {'events':>6s} {'baseline':>15s} {'ours':>15s} {'floor':>15s}  baseline/ours")
    for name, history in histories.items():
        cells = {k: (min(v[name]) * 1000, statistics.median(v[name]) * 1000) for k, v in variants.items()}
        ratio = cells["baseline"][1] / cells["ours"][1]
        row = " ".join(f"{lo:6.1f} / {mid:6.1f}" for lo, mid in cells.values())
        print(f"{name:15s} {len(history.events):6d} {row}  {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
