"""`make screenshots`: the pages as a person sees them, written to docs/screenshots/ for the README.

Starts a whole stack (Temporal dev server, worker, API on SQLite, harness/live_stack.py), opens the
requests of harness/scenarios.py (a 10-working-day clock across the 2025 National Day week, restarted after
a pause; a breached one), signs in as the insurer's auditor in Debian's chromium through Playwright,
and saves full-page PNGs. Nothing is downloaded: the browser is /usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, async_playwright

from adapters.calendar_files import build_calendar
from harness.chromium import launch
from harness.live_stack import LiveStack
from harness.scenarios import NATIONAL_DAY_BREACH, NATIONAL_DAY_BREACH_UNCONFIRMED, NATIONAL_DAY_RESTART
from sla.calendar.timeutil import SHANGHAI

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def running_since(working_days_ago: int, policy_no: str) -> dict[str, Any]:
    """A request whose admission clock started `working_days_ago` working days before now: running,
    or at risk past its last warning (4/5 of ten working days)."""
    calendar = build_calendar()
    now = datetime.now(SHANGHAI)
    day = calendar.add_working_days(now.date(), -working_days_ago) if working_days_ago else now.date()
    started = datetime.combine(day, now.time(), SHANGHAI).replace(microsecond=0) - timedelta(hours=1)
    events = [
        {"type": kind, "occurred_at": (started + timedelta(minutes=i)).isoformat(), "data": {}}
        for i, kind in enumerate(("eligibility_approved", "admission_notice_issued", "materials_complete"))
    ]
    return NATIONAL_DAY_RESTART | {"policy_no": policy_no, "opened_at": started.isoformat(), "events": events}


async def open_scenarios(live: LiveStack) -> dict[str, str]:
    """The demo requests, by name: their ids."""
    ids = {}
    bodies = {
        "national_day": NATIONAL_DAY_RESTART,
        "breach": NATIONAL_DAY_BREACH,
        "breach_unconfirmed": NATIONAL_DAY_BREACH_UNCONFIRMED,
        "at_risk": running_since(9, "P-PAGES-0004"),
        "running": running_since(2, "P-PAGES-0005"),
    }
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
        for name, body in bodies.items():
            answer = await http.post("/v1/requests", json=body, headers=live.headers("coordinator"))
            answer.raise_for_status()
            ids[name] = answer.json()["id"]
    return ids


async def sign_in(page: Page, base_url: str, key: str) -> None:
    await page.goto(f"{base_url}/login")
    await page.fill("input[name=key]", key)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/requests*")


async def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        live = await LiveStack.start(Path(scratch))
        try:
            ids = await open_scenarios(live)
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                await sign_in(page, live.base_url, live.keys["auditor"])
                shots = {
                    "audit-national-day-restart.png": f"/requests/{ids['national_day']}",
                    "audit-breached.png": f"/requests/{ids['breach']}",
                    "requests-list.png": "/requests",
                }
                for name, path in shots.items():
                    await page.goto(f"{live.base_url}{path}")
                    await page.screenshot(path=str(out / name), full_page=True)
                    written.append(out / name)
                await browser.close()
        finally:
            await live.stop()
    return written


if __name__ == "__main__":
    for path in asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
