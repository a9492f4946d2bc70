"""The pages at 10,000 requests, each as a ratio to the JSON endpoint serving the same figures, in one run
through the real app (FastAPI over ASGI, no network), signed in as a person would be (/login, a session):

- the audit page `/requests/{id}` against the audit pack `GET /v1/requests/{id}/audit` (both read the
  same pack and replay the same archived history; the page adds the calendar drawing and the HTML);
- the scorecard `/scorecards/{insurer}/{YYYY-MM}` against the compliance report for the same month
  `GET /v1/reports/compliance?insurer=&month=&party=vendor`; the scorecard also reads the six months
  before for its trend, so it is compared with those seven reports too.

Run: python -m bench.pages [--requests 10000] [--database postgresql] [--repeat 7]

The read model is bench/readmodel.py's seed; the audited request is written by the real advance
activity (tests/projected.py: opened, materials, a breach) with a recorded history archived beside it.
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
from pathlib import Path
from typing import Any

import httpx

from bench.readmodel import build
from sla.calendar.timeutil import SHANGHAI
from sla.reports import CalendarMonth

NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
AUDITED = "bench-audited-request"
INSURER = "zhongan"
MONTH = "2026-10"


def _audited_request(app: Any, directory: Path) -> None:
    """One request with real clocks (a restart and a breach), and a recorded history in the archive."""
    from sqlalchemy import insert

    from store.models import HistoryArchiveRow, table_of
    from tests.data import HISTORIES
    from tests.projected import Projector, Step

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


async def _signed_in(app: Any, key: str) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120)
    form = await browser.get("/login?next=/requests")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None, form.text[:300]
    answer = await browser.post("/login", data={"key": key, "csrf": csrf[1], "next": "/requests"})
    assert answer.status_code == 303, answer.text[:300]
    return browser


async def _median(call: Callable[[], Awaitable[httpx.Response]], repeat: int) -> float:
    first = await call()  # warm-up, and a check that it answers
    assert first.status_code == 200, (first.status_code, first.text[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _main(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    started = time.perf_counter()
    app, keys, server = build(args.database, directory, args.requests, NOW)
    _audited_request(app, directory)
    print(f"seeded {args.requests:,} requests ({args.database}) in {time.perf_counter() - started:.1f} s", flush=True)
    api_headers = {"Authorization": f"Bearer {keys['operations']}"}
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120)
    browser = await _signed_in(app, keys["operations"])
    report_path = "/v1/reports/compliance"
    month = CalendarMonth.parse(MONTH)
    months = [str(m) for m in [*month.before(6), month]]

    async def seven_reports() -> httpx.Response:
        answer = None
        for wanted in months:
            answer = await api.get(
                report_path, params={"insurer": INSURER, "month": wanted, "party": "vendor"}, headers=api_headers
            )
        assert answer is not None
        return answer

    try:
        timings = {
            "audit pack JSON": await _median(
                lambda: api.get(f"/v1/requests/{AUDITED}/audit", headers=api_headers), args.repeat
            ),
            "audit page": await _median(lambda: browser.get(f"/requests/{AUDITED}"), args.repeat),
            "compliance report JSON, the month": await _median(
                lambda: api.get(
                    report_path, params={"insurer": INSURER, "month": MONTH, "party": "vendor"}, headers=api_headers
                ),
                args.repeat,
            ),
            "compliance report JSON, 7 months": await _median(seven_reports, args.repeat),
            "scorecard page": await _median(lambda: browser.get(f"/scorecards/{INSURER}/{MONTH}"), args.repeat),
            "scorecard figures.json": await _median(
                lambda: browser.get(f"/scorecards/{INSURER}/{MONTH}/figures.json"), args.repeat
            ),
        }
    finally:
        await api.aclose()
        await browser.aclose()
        app.state.slatrack.engine.dispose()
        if server is not None:
            server.stop()
            server.remove()
    print(f"\nmedian ms per call, {args.requests:,} requests, {args.database}, {args.repeat} calls each")
    for name, seconds in timings.items():
        print(f"{name:36}{seconds * 1000:10.1f}")
    audit = timings["audit page"] / timings["audit pack JSON"]
    month_ratio = timings["scorecard page"] / timings["compliance report JSON, the month"]
    seven = timings["scorecard page"] / timings["compliance report JSON, 7 months"]
    print(f"\naudit page / audit pack JSON: {audit:.2f}")
    print(f"scorecard page / compliance report JSON (the month): {month_ratio:.2f}")
    print(f"scorecard page / compliance report JSON (the month and the 6 before, 7 calls): {seven:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
