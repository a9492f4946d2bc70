"""The pages against the JSON that serves the same figures, on bench/readmodel.py's read model (10,000
requests by default), through the real app (FastAPI over ASGI, no network), signed in as a person is
(/login, a session cookie). Prints the median time per call and the page / JSON ratio:

- the audit page `/requests/{id}` against GET /v1/requests/{id}/audit, for a seeded request (no
  history: nothing replayed on either side) and for one written by the real advance activity with a
  recorded history archived beside it (replayed on both sides, as an auditor's page does);
- the list by opening against GET /v1/requests?limit=100 (the page reads 100), the owed list by due
  against GET /v1/requests?limit=100&state=open, and the audit page's PDF;
- the scorecard `/scorecards/{insurer}/{YYYY-MM}` against GET /v1/reports/compliance?insurer=&month=
  &party=vendor. The scorecard also reads the six months before for its trend, so it is compared with
  those seven reports too (one call per month).

Rendering is the pages' only extra work: they read through the same read side.

Run: python -m bench.pages [--requests 10000] [--database postgresql] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.readmodel import build
from sla.calendar.timeutil import SHANGHAI
from sla.reports import CalendarMonth

NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
AUDITED = "bench-audited-request"  # written by the advance activity, its history archived
INSURER, MONTH = "zhongan", "2026-10"
REPORT = "/v1/reports/compliance"
PAIRS = [
    ("audit page", "/requests/{id}", "/v1/requests/{id}/audit"),
    ("audit page, history replayed", f"/requests/{AUDITED}", f"/v1/requests/{AUDITED}/audit"),
    ("list page (100)", "/requests?order=opened", "/v1/requests?limit=100"),
    ("owed, by due (100)", "/requests", "/v1/requests?limit=100&state=open"),
    ("scorecard", f"/scorecards/{INSURER}/{MONTH}", f"{REPORT}?insurer={INSURER}&month={MONTH}&party=vendor"),
]


def _audited_request(app: Any, directory: Path) -> None:
    """One request with real clocks (incomplete materials restart the admission clock) and a recorded
    history (the replay corpus' breached one) in the archive, so the pack replays it."""
    from sqlalchemy import insert

    from harness.projected import Projector, Step
    from harness.replay import CORPUS as HISTORIES
    from store.models import HistoryArchiveRow, table_of

    engine = app.state.slatrack.engine
    opened = NOW - timedelta(days=40)
    Projector(engine, directory).request(
        AUDITED,
        "axa.green_channel.inpatient",
        "vendor-late",
        opened,
        Step("admission_notice_issued", opened + timedelta(hours=2)),
        Step("materials_incomplete", opened + timedelta(days=1)),
        Step("materials_complete", opened + timedelta(days=3)),
        until=NOW,
    )
    text = (HISTORIES / "breached.json").read_text()
    with engine.begin() as connection:
        connection.execute(
            insert(table_of(HistoryArchiveRow)).values(
                request_id=AUDITED,
                workflow_id=f"request-{AUDITED}",
                run_id="bench",
                event_count=text.count('"eventId"'),
                sha256="bench",
                history_json=text,
                archived_at=NOW,
            )
        )


async def _median(call: Callable[[], Awaitable[httpx.Response]], repeat: int) -> float:
    answer = await call()  # a warm-up, and a check that it answers
    assert answer.status_code == 200, (answer.url, answer.status_code, answer.text[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(app: Any, key: str, request_id: str, repeat: int) -> list[tuple[str, float, float | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
        form = await http.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        signed_in = await http.post("/login", data={"key": key, "csrf": found.group(1), "next": "/requests"})
        assert signed_in.status_code == 303, signed_in.text
        bearer = {"Authorization": f"Bearer {key}"}
        rows: list[tuple[str, float, float | None]] = []
        for name, page, api in PAIRS:
            page_url, api_url = page.replace("{id}", request_id), api.replace("{id}", request_id)
            page_time = await _median(partial(http.get, page_url), repeat)
            api_time = await _median(partial(http.get, api_url, headers=bearer), repeat)
            rows.append((name, page_time, api_time))

        months = [str(m) for m in [*CalendarMonth.parse(MONTH).before(6), CalendarMonth.parse(MONTH)]]

        async def seven_reports() -> httpx.Response:
            answers = [
                await http.get(REPORT, params={"insurer": INSURER, "month": m, "party": "vendor"}, headers=bearer)
                for m in months
            ]
            return answers[-1]

        scorecard_time = next(page_time for name, page_time, _ in rows if name == "scorecard")
        rows.append(("scorecard / its 7 months", scorecard_time, await _median(seven_reports, repeat)))
        pdf = await _median(partial(http.get, f"/requests/{request_id}?format=pdf"), max(3, repeat // 2))
        rows.append(("audit page as PDF", pdf, None))
    return rows


async def _main(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    started = time.perf_counter()
    app, keys, server = build(args.database, directory, args.requests, NOW)
    _audited_request(app, directory)
    print(f"seeded {args.requests:,} requests in {time.perf_counter() - started:.1f} s ({args.database})", flush=True)
    try:
        rows = await measure(app, keys["operations"], f"seed{0:07d}7", args.repeat)
    finally:
        app.state.slatrack.engine.dispose()
        if server is not None:
            server.stop()
            server.remove()
    print(f"\nmedian ms per call at {args.requests:,} requests; ratio = page / JSON")
    print(f"{'':30}{'page':>10}{'JSON':>10}{'ratio':>8}")
    for name, page_time, api_time in rows:
        json_text = f"{api_time * 1000:10.1f}{page_time / api_time:8.2f}" if api_time else f"{'':>10}{'':>8}"
        print(f"{name:30}{page_time * 1000:10.1f}{json_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
