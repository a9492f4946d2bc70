"""Hostile input over HTTP, as an attacker or a buggy vendor integration sends it (issue 11): every answer
a 4xx application/problem+json that names the field, never a 5xx, and no request wedged: afterwards each
request an input was aimed at still accepts a valid event, and its events in the read model are the
workflow's (`get_status`), revision included.

Run: python -m bench.hostile [--database postgresql]

Starts its own stack (Temporal dev server, worker, API over HTTP; SQLite, or PostgreSQL from Debian's
packages), sends every case of harness/hostile_cases.py and prints a table per input class and the summary
line. tests/api/test_hostile.py runs the same probe on both backends in `make test`, with property-based
inputs from hypothesis and schemathesis on top.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from bench.live import live_stack
from harness.hostile import probe


async def _main(args: argparse.Namespace) -> None:
    async with live_stack(args.database, "bench-hostile-") as stack:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            keys = {role: stack.headers(role) for role in stack.keys}
            report = await probe(http, keys, stack.engine, stack.client)
        print(report.table())
        for failure in report.failures:
            print("  FAILED", failure)
        print(report.line(args.database))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
