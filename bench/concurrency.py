"""Many coordinators at once on one request: every acknowledged event in the read model exactly once,
in the workflow's order; concurrent opens with one external_ref make one request; /healthz answers
throughout.

Run: python -m bench.concurrency [--events 50 --rounds 20 --opens 20] [--database postgresql]

Starts its own stack (Temporal dev server, worker, API over HTTP; SQLite, or PostgreSQL from Debian's
packages), then per round sends N distinct follow_up_done events, each with its own Idempotency-Key,
all at once to one new request, and re-sends a few of them (retries). tests/api/test_concurrency.py runs
the same probe with a smaller N in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from bench.live import live_stack
from harness.concurrency import Round, client_limits, event_burst, open_burst


async def _main(args: argparse.Namespace) -> None:
    async with live_stack(args.database, "bench-concurrency-") as stack:
        limits = client_limits(args.events)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=60, limits=limits) as http:
            headers = stack.headers("coordinator")
            totals = Round()
            for number in range(1, args.rounds + 1):
                r = await event_burst(http, headers, stack.engine, stack.client, "vendor-reliable", args.events)
                totals.duplicated += r.duplicated
                totals.missing += r.missing
                totals.unacknowledged_but_recorded += r.unacknowledged_but_recorded
                totals.out_of_order |= r.out_of_order
                totals.healthz_slowest = max(totals.healthz_slowest, r.healthz_slowest)
                totals.healthz_failures += r.healthz_failures
                print(
                    f"round {number:2}: {args.events} events in {r.seconds:5.2f} s ({args.events / r.seconds:5.1f}/s)"
                    f" statuses {r.statuses} duplicated {len(r.duplicated)} missing {len(r.missing)}"
                    f" hidden {len(r.unacknowledged_but_recorded)} order {'WRONG' if r.out_of_order else 'ok'}"
                    f" healthz max {r.healthz_slowest * 1000:.0f} ms"
                )
            opens = await open_burst(http, headers, stack.engine, "vendor-reliable", args.opens)
        print(
            f"\n{args.rounds} rounds x {args.events} events on {args.database}: duplicated {len(totals.duplicated)},"
            f" missing {len(totals.missing)}, 5xx that hid a recorded event {len(totals.unacknowledged_but_recorded)},"
            f" order {'WRONG' if totals.out_of_order else 'the workflow order'},"
            f" /healthz slowest {totals.healthz_slowest * 1000:.0f} ms, failures {totals.healthz_failures}"
        )
        print(
            f"{args.opens} concurrent opens with one external_ref: statuses {opens['statuses']},"
            f" distinct ids {len(opens['ids'])}, stored requests {opens['stored']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
