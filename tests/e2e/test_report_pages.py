"""The scorecard and the terms page in a real browser (Debian's chromium through Playwright), against the
app over real HTTP on a read model the real advance activity wrote (harness/projected.py's October 2025):
what a vendor's coordinator reads on its scorecard is, figure for figure, what the compliance report
answers for the same month; another vendor's scorecard is a 404 page; an auditor reads who owes each
clock on the terms page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page
from sqlalchemy import Engine

from api.app import create_app
from harness.chromium import signed_in_page
from harness.keys import TEST_KEYS_SETTING
from harness.projected import SPECIAL_DRUG, Projector, october_2025
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from sla.reports import CalendarMonth
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from tests.helpers import at

pytestmark = pytest.mark.browser

INSURER = "axa_tianping"
MONTH = "2025-10"
NOW = at(2025, 12, 3, 10)


@pytest.fixture
def site(tmp_path: Path, calendar_dir: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'pages.db'}"
    engine = make_engine(url)
    init_schema(engine)
    october_2025(Projector(engine, calendar_dir))
    settings = Settings(database_url=url, calendar_dir=calendar_dir, payload_keys=TEST_KEYS_SETTING)
    app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"), clock=lambda: NOW)
    with serving(app) as base_url:
        yield base_url, engine
    engine.dispose()


async def signed_in(browser: Any, base_url: str, key: str) -> Page:
    page: Page = await signed_in_page(browser, base_url, key)
    return page


def percent(compliance: float | None) -> str:
    return "—" if compliance is None else f"{compliance * 100:.2f} %"


async def test_a_coordinator_reads_on_its_scorecard_the_report_figures_and_another_vendors_is_a_404(
    chromium: Any, site: tuple[str, Engine]
) -> None:
    base_url, engine = site
    key = create_key(engine, Role.COORDINATOR, vendor_id="vendor-a")
    report = httpx.get(
        f"{base_url}/v1/reports/compliance",
        params={"insurer": INSURER, "month": MONTH, "party": "vendor"},
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    page = await signed_in(chromium, base_url, key)
    answer = await page.goto(f"{base_url}/scorecards/{INSURER}/{MONTH}")
    assert answer is not None and answer.status == 200
    shown = []
    for row in await page.locator("table.scorecard tr.line").all():
        figures = {
            name: (await row.locator(f'td[data-figure="{name}"]').inner_text()).strip()
            for name in ("due", "met", "breached", "exempt", "cancelled", "open_past_due", "compliance")
        }
        shown.append((await row.get_attribute("data-service"), await row.get_attribute("data-clock"), figures))
    expected = [
        (
            line["service_id"],
            line["clock_id"],
            {name: str(line[name]) for name in ("due", "met", "breached", "exempt", "cancelled", "open_past_due")}
            | {"compliance": percent(line["compliance"])},
        )
        for line in report
    ]
    assert shown == expected and shown[0][:2] == (SPECIAL_DRUG, "fulfil")
    assert shown[0][2]["compliance"] == "66.67 %" and shown[0][2]["open_past_due"] == "2"
    await page.click("a[href='/requests/r-late-delivery']")  # the breached request, to its audit page
    await page.wait_for_url(f"{base_url}/requests/r-late-delivery")
    # the six months before as bars: September's one delivery was breached (0 %), the others graded none
    await page.goto(f"{base_url}/scorecards/{INSURER}/{MONTH}")
    labels = await page.locator("figure.trend text").all_text_contents()
    months = [str(m) for m in CalendarMonth.parse(MONTH).before(6)]
    assert all(m in labels for m in months) and "0.00 %" in labels
    assert await page.locator("figure.trend rect.bar").count() == 1

    other = await page.goto(f"{base_url}/scorecards/{INSURER}/{MONTH}?vendor=vendor-b")
    assert other is not None and other.status == 404
    assert "404" in await page.locator("h1").inner_text()
    assert await page.locator("table.scorecard").count() == 0


async def test_an_auditor_reads_on_the_terms_page_that_the_insurer_owes_the_audit(
    chromium: Any, site: tuple[str, Engine]
) -> None:
    base_url, engine = site
    page = await signed_in(chromium, base_url, create_key(engine, Role.AUDITOR, insurer_id=INSURER))
    answer = await page.goto(f"{base_url}/catalog/{SPECIAL_DRUG}")
    assert answer is not None and answer.status == 200
    audit = page.locator("section[data-clock=audit]")
    assert "保险公司" in await audit.locator("td.party").inner_text()
    assert "never in a vendor's compliance" in await audit.locator("td.party").inner_text()
    assert "1 个工作日完成权益及药品审核" in await audit.locator("blockquote.clause").inner_text()
    assert "服务商" in await page.locator("section[data-clock=fulfil] td.party").inner_text()
