"""Read-model queries at 1,000 / 10,000 / 100,000 requests: a page of each list filter, one request,
the compliance report and a /metrics scrape, through the real app (FastAPI over ASGI, no network).

Run: python -m bench.readmodel [--sizes 1000 10000 100000] [--database postgresql] [--repeat 7]
     [--only "compliance, clocks due" "list opened"]   (the queries whose names contain one of these)
     [--alternate 5]   (every size seeded first, then the sizes timed in turn, 5 rounds of --repeat calls
                        each: a load spike on the shared machine falls on every size alike)

The read model is seeded directly (bulk inserts of realistic rows, tallies included, as the writer
would leave them): a year of requests over the catalog's services and three vendors, 30 % open with
their clocks running, paused, at risk, breached, a few past their instant but not recorded yet (the
herd's lag). Prints the median time per query at each size and the ratio largest / smallest; the
target is <= 2x for a page and for a scrape, <= 1.5x for a month's report (the month tally).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from harness.readmodel import METRICS_TOKEN, QUERIES, seed
from sla.calendar.timeutil import SHANGHAI

PAGE_AND_SCRAPE = [
    name for name, *_ in QUERIES if name.startswith(("list", "coordinator", "auditor")) or name == "/metrics scrape"
]
REQUEST_ID = f"seed{0:07d}7"  # "one request": a seeded request at every size
Table = dict[int, dict[str, float]]  # seconds per query at each size
MONTH_REPORTS = [name for name, *_ in QUERIES if name.startswith("compliance, clocks due")]


async def measure(
    app: Any, keys: dict[str, str], request_id: str, repeat: int, queries: list[tuple[str, str, str, dict[str, str]]]
) -> dict[str, float]:
    """Median seconds per query (one warm-up call first)."""
    transport = httpx.ASGITransport(app=app)
    results = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        for name, role, path, params in queries:
            headers = {"Authorization": f"Bearer {keys[role]}"}
            url = path.replace("{id}", request_id)
            answer = await http.get(url, params=params, headers=headers)
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                await http.get(url, params=params, headers=headers)
                times.append(time.perf_counter() - started)
            results[name] = statistics.median(times)
    return results


def build(database: str, directory: Path, count: int, now: datetime) -> tuple[Any, dict[str, str], Any]:
    from api.app import create_app
    from harness.keys import TEST_KEYS_SETTING
    from runtime.settings import Settings, TemporalSettings
    from store.db import init_schema, make_engine
    from store.keys import Role, create_key

    server = None
    if database == "postgresql":
        from harness.postgres import PostgresServer

        server = PostgresServer()
        server.init()
        server.start()
        url = server.new_database("readmodel")
    else:
        url = f"sqlite:///{directory / f'readmodel-{count}.db'}"
    engine = make_engine(url)
    init_schema(engine)
    seed(engine, count, now)
    keys = {
        "operations": create_key(engine, Role.OPERATIONS),
        "coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-late"),
        "auditor": create_key(engine, Role.AUDITOR, insurer_id="zhongan"),
        "metrics": METRICS_TOKEN,
    }
    engine.dispose()
    settings = Settings(
        database_url=url, calendar_dir=directory, payload_keys=TEST_KEYS_SETTING, metrics_token=METRICS_TOKEN
    )
    app = create_app(settings, TemporalSettings(address="127.0.0.1:1"), clock=lambda: now)
    return app, keys, server


Built = tuple[Any, dict[str, str], Any]  # the app, its keys, the PostgreSQL server (None on SQLite)


def _seeded(database: str, directory: Path, count: int, now: datetime) -> Built:
    started = time.perf_counter()
    built = build(database, directory, count, now)
    print(f"seeded {count:,} requests in {time.perf_counter() - started:.1f} s", flush=True)
    return built


def _close(built: Built) -> None:
    app, _keys, server = built
    app.state.slatrack.engine.dispose()
    if server is not None:
        server.stop()
        server.remove()


async def _one_after_another(args: argparse.Namespace, directory: Path, now: datetime, queries: list[Any]) -> Table:
    table = {}
    for count in args.sizes:
        built = _seeded(args.database, directory, count, now)
        try:
            table[count] = await measure(built[0], built[1], REQUEST_ID, args.repeat, queries)
        finally:
            _close(built)
    return table


async def _alternately(args: argparse.Namespace, directory: Path, now: datetime, queries: list[Any]) -> Table:
    """Every size seeded first, then `args.alternate` rounds timing each size in turn: the median of
    each size's rounds (each round a median of --repeat calls)."""
    built = {count: _seeded(args.database, directory, count, now) for count in args.sizes}
    rounds: dict[int, dict[str, list[float]]] = {count: defaultdict(list) for count in built}
    try:
        for _ in range(args.alternate):
            for count, (app, keys, _server) in built.items():
                for name, median in (await measure(app, keys, REQUEST_ID, args.repeat, queries)).items():
                    rounds[count][name].append(median)
    finally:
        for each in built.values():
            _close(each)
    return {count: {name: statistics.median(times) for name, times in rounds[count].items()} for count in rounds}


async def _main(args: argparse.Namespace) -> None:
    now = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
    directory = Path(tempfile.mkdtemp(prefix="bench-readmodel-"))
    queries = [q for q in QUERIES if not args.only or any(part in q[0] for part in args.only)]
    timed = _alternately if args.alternate else _one_after_another
    table = await timed(args, directory, now, queries)
    sizes = sorted(table)
    how = f", sizes in turn, {args.alternate} rounds" if args.alternate else ""
    print(f"\nmedian ms per call ({args.database}{how}); ratio = {sizes[-1]:,} / {sizes[0]:,}")
    print(f"{'query':36}" + "".join(f"{s:>10,}" for s in sizes) + f"{'ratio':>8}")
    worst, worst_month = 0.0, 0.0
    for name, *_ in queries:
        ratio = table[sizes[-1]][name] / table[sizes[0]][name]
        if name in PAGE_AND_SCRAPE:
            worst = max(worst, ratio)
        if name in MONTH_REPORTS:
            worst_month = max(worst_month, ratio)
        print(f"{name:36}" + "".join(f"{table[s][name] * 1000:10.1f}" for s in sizes) + f"{ratio:8.2f}")
    print(f"\nworst ratio for a page or a scrape: {worst:.2f} (target <= 2)")
    print(f"worst ratio for a month's report: {worst_month:.2f} (target <= 1.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--alternate", type=int, default=0, metavar="ROUNDS", help="time the sizes in turn")
    parser.add_argument("--only", nargs="+", default=[], help="measure only the queries whose names contain these")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
