"""Faults mid-stream: a bounded stream of events flows through the HTTP API while one part of the
stack fails, then every acknowledged event must be in the read model and in the workflow exactly
once, and every deadline that passed during the outage recorded as a breach at its due instant.

Run: python -m bench.faults [--database sqlite|postgresql|both] [--faults worker,temporal,api,database,everything]

The stack is separate processes (harness/processes.py): a Temporal dev server on its SQLite file,
`python -m worker`, `slatrack api`, and the read model on SQLite or on a PostgreSQL server of its own.
The faults, each injected while the stream runs:

  worker      SIGKILL the worker; a new one starts 4 s later
  temporal    SIGKILL the dev server; it starts again on its SQLite file 4 s later
  api         stop the API (SIGTERM, in-flight calls finish); a new one starts 3 s later
  database    the read model unavailable for 20 s: SQLite, a connection holding BEGIN EXCLUSIVE
              (writers wait; WAL readers still read); PostgreSQL, the server stopped (pg_ctl) and started
  everything  SIGKILL the API, the worker and the dev server; all started again 4 s later

The stream: 6 events/s, round-robin over 30 requests and the phase's breach requests, each a
follow_up_done (accepted any number of times) with its own occurred_at; three in four carry the
client's Idempotency-Key, one in four none (the client learns the key from the answer's
Idempotency-Key header). The client is a careful integration: a 503 is retried after its Retry-After
(at most 5 s) with the same key (a keyless call with the key the 503 named, if it named one); a call
that got no answer is retried after 0.5 s with its key, or, without a key, only if nothing was sent
(connection refused); any other answer ends the call. One open every 2 s with an external_ref
(retried the same way) checks that an acknowledged open has its workflow and its row. Before each
fault, requests are opened with a backdated `opened_at` so that their 48-hour `inform_status` clock
falls due inside the fault window. Half a second into the database outage, 14 distinct events go at
once to one request (an integration catching up its backlog): more than the 10 updates Temporal
keeps in flight per workflow while the outage holds them.

After each fault, waiting (bounded) until the stack has settled, the checks (cumulative, over every
call of every phase so far): each acknowledged event exactly once in the read model and in the
workflow's `get_status` log, with the key the client knows; an unacknowledged one at most once, and
only under a key the client was told; the read model's log equal to the workflow's; every expected
breach recorded with `breached_at == due_at` (read model and workflow) and its outcome row at
`due_at`; no running clock whose due instant has passed; the running workflows equal the open
rows; outcome rows equal the workflow's outcomes; tallies exact. Answers: only 200 or 503 with
Retry-After (never a 500), and no connection error while the API is up.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path

from harness.faults import FAULTS, POSTGRES_FAULTS, SQLITE_FAULTS, FaultReport, describe, run_faults, table


async def _main(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    reports: list[FaultReport] = []
    for backend in backends:
        names = args.faults.split(",") if args.faults else (SQLITE_FAULTS if backend == "sqlite" else POSTGRES_FAULTS)
        for item in filter(None, args.down.split(",")):
            name, _, seconds = item.partition("=")
            FAULTS[name] = dataclasses.replace(
                FAULTS[name], down=float(seconds), title=f"{FAULTS[name].title} ({seconds} s)"
            )
        directory = Path(tempfile.mkdtemp(prefix=f"bench-faults-{backend}-"))
        started = time.monotonic()
        for report in await run_faults(directory, backend, names):
            reports.append(report)
            print(describe(report), flush=True)
        print(f"{backend}: {time.monotonic() - started:.0f} s, logs in {directory}", flush=True)
    print()
    print(table(reports))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--faults", default="", help=f"comma-separated, of {', '.join(FAULTS)}")
    parser.add_argument("--down", default="", help="longer or shorter outages, e.g. temporal=20,worker=8")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
