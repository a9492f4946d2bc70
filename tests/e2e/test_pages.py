"""The pages in a real browser (Debian's chromium through Playwright) against the live stack, on SQLite
and PostgreSQL: each role signs in on the form and sees what a person would read: the due date as
24:00 of the last working day, the breach, the holiday week named on the clock's calendar, the
manual's line quoted; another vendor's or insurer's request is a 404 page; the PDF holds the same."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from adapters.catalog_files import default_catalog
from harness.chromium import signed_in_page
from harness.hostile_cases import MARKUP_NOTES
from harness.live_stack import LiveStack
from tests.data import (
    INSURED_JSON,
    NATIONAL_DAY_BREACH,
    NATIONAL_DAY_BREACH_DUE,
    NATIONAL_DAY_BREACH_UNCONFIRMED,
    NATIONAL_DAY_RESTART_LATE,
)

pytestmark = pytest.mark.browser

RESTART_LATE_DUE = "2025-10-22 24:00"  # ten working days from the restart on 10-09 (10-11 worked)


async def signed_in(chromium: Any, live: LiveStack, role: str) -> Page:
    """A fresh browser context signed in on the form with the role's key; every dialog is recorded."""
    page: Page = await signed_in_page(chromium, live.base_url, live.keys[role])
    return page


async def opened(http: httpx.AsyncClient, live: LiveStack, body: dict[str, Any], ref: str) -> str:
    answer = await http.post("/v1/requests", json=body | {"external_ref": ref}, headers=live.headers("coordinator"))
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


async def test_an_auditor_reads_a_restart_a_pause_across_national_day_and_a_breach(
    chromium: Any, live: LiveStack, http: httpx.AsyncClient
) -> None:
    request_id = await opened(http, live, NATIONAL_DAY_RESTART_LATE, "pages-restart-late")
    note = {"type": "materials_incomplete", "occurred_at": "2025-10-24T11:00:00+08:00"}
    answer = await http.post(
        f"/v1/requests/{request_id}/events",
        json=note | {"data": {"note": MARKUP_NOTES["script tag"]}},
        headers=live.headers("coordinator"),
    )
    assert answer.status_code == 200, answer.text
    page = await signed_in(chromium, live, "auditor")
    await page.goto(f"{live.base_url}/requests/{request_id}")
    clock = page.locator("section.clock").first
    summary = await clock.locator(".summary").inner_text()
    assert f"{RESTART_LATE_DUE} +08:00 (周三)" in summary
    assert "超时 Breached" in summary
    assert await clock.locator(".badge.breached").count() == 1
    # two rows: the first cycle, paused across the holiday week until the restart, then the second
    assert await clock.locator("svg").count() == 2
    first_row = clock.locator("svg").first
    holiday_names = await first_row.locator("text.holiday-name").all_text_contents()
    assert holiday_names == ["国庆节 National Day · 中秋 Mid-autumn Festival"]
    assert "调休上班 国庆节 National Day" in await first_row.locator("text.makeup-name").all_text_contents()
    assert await first_row.locator("rect.span-paused").count() == 1
    assert await clock.locator("svg").nth(1).locator("text.marker-breached").text_content() == "超时 breach 10-22 24:00"
    # the clause, in the manual's words
    spec = default_catalog().get("axa.green_channel.inpatient").clocks[0]
    quoted = await clock.locator("blockquote.clause").inner_text()
    assert spec.quote.splitlines()[0].strip() in quoted and spec.source.cite() in quoted
    # the event log: the note as typed, and nothing ran
    events = await page.locator("#events").inner_text()
    assert MARKUP_NOTES["script tag"] in events
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert "一致 verified" in await page.locator("#replay").inner_text()
    # the links: the pack as JSON (the same as the API's), the workflow in the Temporal UI
    pack = await page.request.get(f"{live.base_url}/requests/{request_id}/audit.json")
    assert (await pack.json())["request"]["id"] == request_id
    ui = await page.locator("a", has_text="Workflow in the Temporal UI").get_attribute("href")
    assert ui is not None and ui.endswith(f"/namespaces/default/workflows/request-{request_id}")
    # personal data: the policy number masked, the insured never
    assert await page.locator("#policy-no code").inner_text() == "P-********03"
    content = await page.content()
    assert NATIONAL_DAY_RESTART_LATE["policy_no"] not in content
    assert INSURED_JSON["name"] not in content and INSURED_JSON["id_number"] not in content


async def test_each_role_sees_the_requests_in_its_scope_and_a_404_page_for_the_others(
    chromium: Any, live: LiveStack, http: httpx.AsyncClient
) -> None:
    request_id = await opened(http, live, NATIONAL_DAY_BREACH, "pages-breach-scope")
    for role, visible in [
        ("coordinator", True),
        ("operations", True),
        ("auditor", True),
        ("admin", True),
        ("other_coordinator", False),  # another vendor
        ("other_auditor", False),  # another insurer
    ]:
        page = await signed_in(chromium, live, role)
        answer = await page.goto(f"{live.base_url}/requests/{request_id}")
        assert answer is not None
        if visible:
            assert answer.status == 200, role
            text = await page.locator("section.clock").first.inner_text()
            assert f"{NATIONAL_DAY_BREACH_DUE} +08:00 (周四)" in text, role
        else:
            assert answer.status == 404, role
            assert "404 · 未找到" in await page.locator("h1").inner_text(), role
            shown = await page.locator("main").inner_text()
            assert NATIONAL_DAY_BREACH_DUE not in shown and "vendor-reliable" not in shown, role
        await page.context.close()


async def test_the_owed_list_puts_the_breached_request_first_and_marks_it(
    chromium: Any, live: LiveStack, http: httpx.AsyncClient
) -> None:
    breached = await opened(http, live, NATIONAL_DAY_BREACH_UNCONFIRMED, "pages-breach-list")
    stopped_late = await opened(http, live, NATIONAL_DAY_BREACH, "pages-breach-list-confirmed")
    page = await signed_in(chromium, live, "coordinator")
    await page.goto(f"{live.base_url}/requests?service=axa.green_channel.inpatient")
    rows = page.locator("#requests tbody tr")
    first = rows.first
    assert "超时 breached" in await first.locator("td.next-due").inner_text()
    owed = await page.locator("#requests tbody tr td.next-due").all_inner_texts()
    dated = [text.split("\n")[-1] for text in owed if "+08:00" in text]
    assert dated == sorted(dated)  # by the next due instant
    links = await page.locator("#requests tbody a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert f"/requests/{breached}" in links
    assert f"/requests/{stopped_late}" not in links  # confirmed, late: nothing owed any more
    await page.click("text=All requests, newest first")
    links = await page.locator("#requests tbody a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert f"/requests/{stopped_late}" in links


async def test_the_audit_page_downloads_as_a_pdf_with_the_same_content(
    chromium: Any, live: LiveStack, http: httpx.AsyncClient, tmp_path: Any
) -> None:
    request_id = await opened(http, live, NATIONAL_DAY_BREACH, "pages-breach-pdf")
    page = await signed_in(chromium, live, "auditor")
    answer = await page.request.get(f"{live.base_url}/requests/{request_id}?format=pdf")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert f'filename="request-{request_id}.pdf"' in answer.headers["content-disposition"]
    pdf = tmp_path / "audit.pdf"
    pdf.write_bytes(await answer.body())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert NATIONAL_DAY_BREACH_DUE in text and "超时" in text and "国庆节" in text


async def test_signing_out_in_the_browser_ends_the_session(chromium: Any, live: LiveStack) -> None:
    page = await signed_in(chromium, live, "operations")
    await page.click("header form button[type=submit]")
    await page.wait_for_url(f"{live.base_url}/login")
    await page.goto(f"{live.base_url}/requests")
    assert "/login?next=%2Frequests" in page.url
