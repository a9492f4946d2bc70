"""The pages against the JSON that serves the same figures, on bench/readmodel.py's read model (10,000
requests by default), through the real app (FastAPI over ASGI, no network): the audit page against
GET /v1/requests/{id}/audit, the list against GET /v1/requests?limit=100 (the page reads 100), and the
audit page's PDF. Prints the median time per call and the page / JSON ratio (rendering is the page's
only extra work: both read through the same read side).

Run: python -m bench.pages [--requests 10000] [--database postgresql] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.readmodel import build
from sla.calendar.timeutil import SHANGHAI

PAIRS = [
    ("audit page", "/requests/{id}", "/v1/requests/{id}/audit"),
    ("list page (100)", "/requests?order=opened", "/v1/requests?limit=100"),
    ("owed, by due (100)", "/requests", "/v1/requests?limit=100&state=open"),
]


async def _median(http: httpx.AsyncClient, url: str, repeat: int, **headers: str) -> float:
    answer = await http.get(url, headers=headers)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await http.get(url, headers=headers)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(app: Any, key: str, request_id: str, repeat: int) -> list[tuple[str, float, float | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        form = await http.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        signed_in = await http.post("/login", data={"key": key, "csrf": found.group(1), "next": "/requests"})
        assert signed_in.status_code == 303, signed_in.text
        bearer = {"Authorization": f"Bearer {key}"}
        rows: list[tuple[str, float, float | None]] = []
        for name, page, api in PAIRS:
            page_time = await _median(http, page.replace("{id}", request_id), repeat)
            api_time = await _median(http, api.replace("{id}", request_id), repeat, **bearer)
            rows.append((name, page_time, api_time))
        pdf = await _median(http, f"/requests/{request_id}?format=pdf", max(3, repeat // 2))
        rows.append(("audit page as PDF", pdf, None))
    return rows


async def _main(args: argparse.Namespace) -> None:
    now = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
    directory = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    started = time.perf_counter()
    app, keys, server = build(args.database, directory, args.requests, now)
    print(f"seeded {args.requests:,} requests in {time.perf_counter() - started:.1f} s ({args.database})", flush=True)
    try:
        rows = await measure(app, keys["operations"], f"seed{0:07d}7", args.repeat)
    finally:
        app.state.slatrack.engine.dispose()
        if server is not None:
            server.stop()
            server.remove()
    print(f"\nmedian ms per call at {args.requests:,} requests; ratio = page / JSON")
    print(f"{'':22}{'page':>10}{'JSON':>10}{'ratio':>8}")
    for name, page_time, api_time in rows:
        json_text = f"{api_time * 1000:10.1f}{page_time / api_time:8.2f}" if api_time else f"{'':>10}{'':>8}"
        print(f"{name:22}{page_time * 1000:10.1f}{json_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
