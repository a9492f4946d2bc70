"""The read model rebuilt from the workflows (readmodel/rebuild.py): seconds to verify N requests, to
rebuild them into emptied tables, and to run the rebuild again (every row already at its position).

    .venv/bin/python -m bench.rebuild --requests 200 [--database postgresql]

Each request is opened through the API with three events (a third of them closed, so their
workflows are queried after they completed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
from sqlalchemy import delete

from activities.projection import CHILD_TABLES, REQUESTS
from bench.live import live_stack
from harness.keys import TEST_KEYS
from harness.scenarios import INSURED_JSON
from readmodel.rebuild import TALLY_TABLES, rebuild, verify
from runtime.codec import EncryptionCodec
from store.calendar import CalendarSource

OPENED = "2025-09-25T09:00:00+08:00"
EVENTS = [
    ("admission_notice_issued", "2025-09-24T00:00:00+08:00"),
    ("materials_complete", "2025-09-25T10:00:00+08:00"),
    ("eligibility_approved", "2025-09-26T15:00:00+08:00"),
]
CLOSING = [("hospital_confirmed", "2025-10-20T09:00:00+08:00"), ("service_completed", "2025-10-21T09:00:00+08:00")]


async def _one(http: httpx.AsyncClient, headers: dict[str, str], index: int) -> None:
    body = {
        "service_id": "axa.green_channel.inpatient",
        "vendor_id": "vendor-reliable",
        "policy_no": f"P-{index:05d}",
        "insured": INSURED_JSON,
        "opened_at": OPENED,
    }
    opened = await http.post("/v1/requests", json=body, headers=headers)
    opened.raise_for_status()
    request_id = opened.json()["id"]
    for event, when in EVENTS + (CLOSING if index % 3 == 0 else []):
        answer = await http.post(
            f"/v1/requests/{request_id}/events", json={"type": event, "occurred_at": when, "data": {}}, headers=headers
        )
        answer.raise_for_status()


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    async with live_stack(args.database, "bench-rebuild-") as live:
        headers = live.headers("coordinator")
        async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
            gate = asyncio.Semaphore(10)

            async def opened(index: int) -> None:
                async with gate:
                    await _one(http, headers, index)

            await asyncio.gather(*(opened(i) for i in range(args.requests)))
        codec = EncryptionCodec(TEST_KEYS)
        calendars = CalendarSource(live.settings.calendar_dir, live.engine)
        verified = await verify(live.client, live.engine)
        with live.engine.begin() as connection:
            for table in (*CHILD_TABLES, REQUESTS, *TALLY_TABLES):
                connection.execute(delete(table))
        started = time.perf_counter()
        rebuilt = await rebuild(live.client, live.engine, codec, calendars)
        rebuild_seconds = time.perf_counter() - started
        again = await rebuild(live.client, live.engine, codec, calendars)
        after = await verify(live.client, live.engine)
        return {
            "database": args.database,
            "requests": args.requests,
            "verify_seconds": round(verified.seconds, 2),
            "differences_before": len(verified.differences),
            "rebuild_into_empty_seconds": round(rebuild_seconds, 2),
            "rebuilt": rebuilt.as_dict() | {"differences": len(rebuilt.differences)},
            "rebuild_again_seconds": round(again.seconds, 2),
            "written_again": again.written,
            "differences_after": len(after.differences),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    print(json.dumps(asyncio.run(_main(parser.parse_args())), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
