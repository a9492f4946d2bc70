"""Replay cost of the saved histories (tests/histories), as a running worker pays it on a cache miss.

The scenario `python -m bench.replay` measures (bench/replay.py) and tests/workflows/test_replay.py run
in `make test`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

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
