"""The read model's copy of a clock's view (`clock_row.view`) is written by pydantic-core for speed;
it must hold exactly what `dataclasses.asdict` gave, for every clock the replay corpus records."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from temporalio.client import WorkflowHistory

from activities.projection import _json, clock_json
from harness.keys import TEST_KEYS
from runtime.temporal import build_data_converter
from sla.engine.model import ClockView
from workflows.messages import AdvanceResult

CORPUS = sorted((Path(__file__).parents[1] / "histories").glob("*.json"))


async def _recorded_clocks() -> list[ClockView]:
    converter = build_data_converter(TEST_KEYS)
    clocks: list[ClockView] = []
    for path in CORPUS:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        for event in history.events:
            if not event.HasField("marker_recorded_event_attributes"):
                continue
            details = event.marker_recorded_event_attributes.details
            if "result" not in details:
                continue  # a patch marker
            payloads = details["result"].payloads
            (raw,) = await converter.decode(payloads)
            if "clocks" in raw:  # an advance_request result (not notify_vendor's)
                (result,) = await converter.decode(payloads, [AdvanceResult])
                clocks += result.clocks
    return clocks


async def test_the_stored_clock_view_is_what_asdict_gave_for_every_recorded_clock() -> None:
    clocks = await _recorded_clocks()
    assert len(clocks) >= 50
    assert {c.state for c in clocks} >= {"pending", "running", "met", "breached"}
    for clock in clocks:
        assert clock_json(clock) == _json(asdict(clock)), clock.clock_id
