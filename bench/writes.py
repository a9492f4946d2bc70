"""The projection's writes alone, grouped (store/group_commit.py) against one transaction each, in one
run on one machine: N requests opened, then all N breached at one instant, written from the worker's
activity threads into a fresh SQLite read model (synchronous=FULL, as the worker has it).

Run: python -m bench.writes [--requests 500] [--threads 16] [--rounds 2]

The changes are planned once by the real `advance_request` (harness/projected.py, no Temporal server)
and kept; each mode then writes the same changes: "each" hands each change to the writer's batch
function alone (a transaction and a commit per write, as before issue 25), "grouped" through
ProjectionWriter.write (concurrent writes share a transaction). Modes alternate, `--rounds` times, so
a change in the machine's load falls on both. Process CPU includes every thread of this process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from activities.projection import OUTCOMES, Change, ProjectionWriter
from harness.keys import TEST_KEYS
from harness.projected import Projector
from harness.scenarios import at
from runtime.codec import EncryptionCodec
from store.db import init_schema, make_engine

SERVICE, VENDOR = "pingan_health.green_channel.admission", "vendor-bench"


class _Capturing(ProjectionWriter):
    def __init__(self, projector_engine: object) -> None:
        super().__init__(projector_engine, EncryptionCodec(TEST_KEYS))  # type: ignore[arg-type]
        self.changes: list[Change] = []

    def write(self, change: Change) -> bool:
        self.changes.append(change)
        return True


def planned(requests: int, directory: Path) -> tuple[list[Change], list[Change]]:
    """Each request's opening, and its breach 48 hours later (the herd's instant)."""
    engine = make_engine(f"sqlite:///{directory / 'plan.db'}")
    init_schema(engine)
    (directory / "calendars").mkdir()
    projector = Projector(engine, directory / "calendars")
    capturing = _Capturing(engine)
    projector.activities.writer = capturing
    opened = at(2025, 9, 22, 9)
    for index in range(requests):
        projector.request(f"bench-{index}", SERVICE, VENDOR, opened, until=opened + timedelta(hours=48, seconds=1))
    return capturing.changes[0::2], capturing.changes[1::2]


def _timed(threads: int, changes: Sequence[Change], write: Callable[[Change], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        for outcome in pool.map(write, changes):
            assert outcome is True, outcome
    return time.perf_counter() - wall, time.process_time() - cpu


def one_round(mode: str, threads: int, openings: list[Change], breaches: list[Change], db: Path) -> list[float]:
    engine = make_engine(f"sqlite:///{db}")
    init_schema(engine)
    writer = ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
    write = writer.write if mode == "grouped" else (lambda change: writer.write_all([change])[0])
    try:
        figures = [*_timed(threads, openings, write), *_timed(threads, breaches, write)]
        with engine.connect() as connection:
            breached = connection.execute(select(func.count()).where(OUTCOMES.c.outcome == "breached")).scalar()
        assert breached == len(breaches), f"{breached} breaches recorded of {len(breaches)}"
        return figures
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slatrack-bench-writes-") as tmp:
        openings, breaches = planned(args.requests, Path(tmp))
        n = args.requests
        print(f"\n{n} requests, {args.threads} threads: wall s and process CPU ms per write")
        print(f"{'round':6}{'mode':9}{'open s':>8}{'open ms':>9}{'breach s':>10}{'breach ms':>10}{'vs each':>9}")
        for index in range(args.rounds):
            each: list[float] = []
            for mode in ("each", "grouped"):
                figures = one_round(mode, args.threads, openings, breaches, Path(tmp) / f"{mode}-{index}.db")
                each = each or figures
                ratio = figures[2] / each[2]
                print(
                    f"{index + 1:<6}{mode:9}{figures[0]:8.2f}{figures[1] / n * 1000:9.2f}"
                    f"{figures[2]:10.2f}{figures[3] / n * 1000:10.2f}{ratio:9.2f}"
                )


if __name__ == "__main__":
    main()
