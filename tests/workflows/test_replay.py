"""Saved histories replay with the current workflow code: a change that would break running
requests fails CI. Also guards the workflow module's imports, which decide replay cost."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from bench.replay import load_corpus, time_replays
from runtime.temporal import build_data_converter
from tests.data import HISTORIES, ROOT
from tests.histories import TEST_KEYS
from workflows.service_request import ServiceRequestWorkflow

CORPUS = sorted(HISTORIES.glob("*.json"))
WORKFLOWS = ROOT / "workflows"
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
    assert {p.stem for p in CORPUS} >= {"met_restarted", "breached", "cancelled", "recomputed"}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
async def test_a_saved_history_replays_with_the_current_code(path: Path) -> None:
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None


async def test_a_typical_request_replays_in_under_20_ms() -> None:
    """Issue 3 and perf-reliability.md P3: replaying one history stays under 20 ms (a stray heavy
    import in a workflow module costs ~300 ms; the import-graph test below catches its cause).

    Measured as a running worker pays it on a cache miss: one replay worker, the fastest of ten
    rounds (bench/replay.py prints the full table). Typical requests (up to 25 history events) must
    replay in 20 ms. Longer histories are held to 1 ms per event, a regression guard with room for
    a loaded machine, not issue 3's target. Measured here, 2 cores: 21-27 events ~14 ms, 48 events
    ~28 ms, 72 events ~40 ms; with three busy loops competing: ~15, ~26 and ~68 ms.
    """
    histories = load_corpus()
    timings = await time_replays(histories, build_data_converter(TEST_KEYS), rounds=10)
    over = {}
    for name, history in histories.items():
        budget = 0.020 if len(history.events) <= 25 else 0.001 * len(history.events)
        if min(timings[name]) >= budget:
            over[name] = f"{min(timings[name]) * 1000:.1f} ms >= {budget * 1000:.1f} ms ({len(history.events)} events)"
    assert over == {}
    assert min(len(h.events) for h in histories.values()) <= 25, "the corpus must hold a typical-size request"


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
