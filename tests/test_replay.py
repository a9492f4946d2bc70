"""Saved histories replay with the current workflow code: a change that would break running
requests fails CI. Also guards the workflow module's imports, which decide replay cost."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.temporal import build_data_converter
from tests.conftest import TEST_KEYS
from workflows.service_request import ServiceRequestWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
ALLOWED_IMPORTS = {
    "__future__",
    "asyncio",
    "contextlib",
    "dataclasses",
    "datetime",
    "typing",
    "temporalio",
    "sla",
    "workflows",
}


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"request-{path.stem}", path.read_text())


def replayer() -> Replayer:
    return Replayer(workflows=[ServiceRequestWorkflow], data_converter=build_data_converter(TEST_KEYS))


def test_the_corpus_covers_the_paths() -> None:
    assert {p.stem for p in HISTORIES} >= {"met_restarted", "breached", "cancelled", "recomputed"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_a_saved_history_replays_with_the_current_code(path: Path) -> None:
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None


async def test_replaying_a_history_stays_far_below_the_heavy_import_failure_mode() -> None:
    """perf-reliability.md P3: a stray heavy import in a workflow module costs ~300 ms per replay.

    Measured here (2 cores, sandboxed, ~14 ms of it sandbox setup per call): 27-45 events 40-45 ms,
    55 events ~70 ms, 83 events ~120 ms. Issue 3's 20 ms target is NOT met (see the closing note).
    This guard takes the fastest of ten runs, so load on a shared CI machine cannot fail it, and
    still sits at half the failure mode; the import-graph test below catches the cause directly.
    """
    history = load(next(p for p in HISTORIES if p.stem == "cancelled"))
    replay = replayer()
    await replay.replay_workflow(history)  # warm-up: first replay imports and builds the sandbox
    timings = []
    for _ in range(10):
        start = time.perf_counter()
        await replay.replay_workflow(history)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.150, f"fastest replay {min(timings) * 1000:.1f} ms"


def test_workflow_modules_import_only_temporalio_sla_and_their_messages() -> None:
    offenders = {}
    for path in WORKFLOWS.glob("*.py"):
        roots = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots.add(node.module.split(".")[0])
        if roots - ALLOWED_IMPORTS:
            offenders[path.name] = sorted(roots - ALLOWED_IMPORTS)
    assert offenders == {}
