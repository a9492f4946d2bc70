"""`make screenshots` (with tools/screenshots.py): the scorecard and the terms page as a person sees them,
written to docs/screenshots/ for the README.

Writes half a year of requests for three vendors (May to October 2025, each vendor with its own habits)
through the real advance activity into a SQLite read model (harness/projected.py), serves the app over
HTTP, signs in as the insurer's auditor in Debian's chromium through Playwright and saves full-page
PNGs of October's scorecard and of a service's terms. Deterministic: the same requests every run.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from playwright.async_api import async_playwright

from api.app import create_app
from harness.chromium import launch
from harness.keys import TEST_KEYS_SETTING
from harness.projected import SPECIAL_DRUG, Projector, Step
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from sla.calendar.timeutil import SHANGHAI
from store.db import init_schema, make_engine
from store.keys import Role, create_key

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
INSURER = "axa_tianping"
MONTH = "2025-10"
NOW = datetime(2025, 11, 10, 10, tzinfo=SHANGHAI)
# Days a vendor takes to deliver, drawn per request: the reliable one is quick, the late one often
# late, the forgetful one sometimes never delivers.
HABITS = {"vendor-reliable": (0, 3), "vendor-late": (1, 8), "vendor-forgetful": (0, 12)}
OUTPATIENT, SECOND_OPINION = "axa.green_channel.outpatient", "axa.second_opinion"


def _delivery(step: str, opened: datetime, days: int, never: bool) -> list[Step]:
    """The vendor's delivery `days` after the opening, unless it never came or lies after NOW."""
    at = opened + timedelta(days=days, hours=3)
    return [] if never or at > NOW else [Step(step, at)]


def write_half_year(projector: Projector) -> None:
    rng = random.Random(23)
    number = 0
    for month in range(5, 11):
        for vendor, (fastest, slowest) in HABITS.items():
            for _ in range(4):
                number += 1
                opened = datetime(2025, month, rng.randint(1, 26), 9, tzinfo=SHANGHAI)
                start = Step("materials_complete", opened + timedelta(hours=1))
                lateness = [rng.randint(fastest, slowest) for _ in range(3)]
                # the forgetful vendor never delivers when it draws its slowest
                never = [vendor == "vendor-forgetful" and days == slowest for days in lateness]
                approved = Step("eligibility_approved", opened + timedelta(days=rng.randint(0, 2), hours=2))
                projector.request(
                    f"demo-{number:03d}-drug",
                    SPECIAL_DRUG,
                    vendor,
                    opened,
                    start,
                    approved,
                    *_delivery("drug_delivered", approved.occurred_at, 1 + lateness[0], never[0]),
                    until=NOW,
                )
                projector.request(
                    f"demo-{number:03d}-outpatient",
                    OUTPATIENT,
                    vendor,
                    opened,
                    start,
                    Step("eligibility_approved", opened + timedelta(hours=2)),
                    *_delivery("expert_confirmed", opened, lateness[1], never[1]),
                    until=NOW,
                )
                projector.request(
                    f"demo-{number:03d}-opinion",
                    SECOND_OPINION,
                    vendor,
                    opened,
                    start,
                    *_delivery("expert_confirmed", opened, 3 + lateness[2], never[2]),
                    *_delivery("report_issued", opened, 8 + 2 * lateness[2], never[2]),
                    until=NOW,
                )


async def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "calendars").mkdir()
        url = f"sqlite:///{directory / 'scorecard.db'}"
        engine = make_engine(url)
        init_schema(engine)
        write_half_year(Projector(engine, directory / "calendars"))
        key = create_key(engine, Role.AUDITOR, insurer_id=INSURER, label="screenshots")
        settings = Settings(database_url=url, calendar_dir=directory / "calendars", payload_keys=TEST_KEYS_SETTING)
        app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"), clock=lambda: NOW)
        with serving(app) as base_url:
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                await page.goto(f"{base_url}/login")
                await page.fill("input[name=key]", key)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base_url}/requests*")
                shots = {
                    "scorecard.png": f"/scorecards/{INSURER}/{MONTH}",
                    "terms-special-drug.png": f"/catalog/{SPECIAL_DRUG}",
                }
                for name, path in shots.items():
                    answer = await page.goto(f"{base_url}{path}")
                    assert answer is not None and answer.status == 200, (path, answer and answer.status)
                    await page.screenshot(path=str(out / name), full_page=True)
                    written.append(out / name)
                await browser.close()
        engine.dispose()
    return written


if __name__ == "__main__":
    for path in asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
