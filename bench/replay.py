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

from temporalio.converter import DataConverter
from temporalio.worker import UnsandboxedWorkflowRunner

from harness.keys import TEST_KEYS
from harness.replay import load_corpus, time_replays
from runtime.codec import EncryptionCodec
from runtime.temporal import build_data_converter


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
