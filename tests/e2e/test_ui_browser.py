"""An auditor sees decoded payloads in the Temporal web UI: the dev server started as `slatrack up`
starts it (--ui-codec-endpoint at the API's /codec), a request's workflow whose input holds the
insured's name, and the UI's workflow page rendered in headless Chromium. Before signing in the page
says the codec server refused and shows nothing decoded; after signing in at /codec/login (with the
UI's "Include cross-origin credentials" on) it shows the name, decoded through the codec server.
The browser is Debian's chromium driven by Playwright (harness/chromium.py)."""

from __future__ import annotations

import logging
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import async_playwright
from sqlalchemy import Engine
from temporalio.client import Client

from adapters.catalog_files import default_catalog
from api.app import create_app
from clients.opening import open_request
from harness.chromium import chromium_path, launch
from harness.keys import TEST_KEYS
from harness.servers import free_port, wait_for_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import connect
from store.keys import Role, create_key
from worker.stack import Stack
from workflows.messages import Insured

NAME = "界面可见-赵六"
POLICY = "P-UI-BROWSER-7"  # ASCII too, whatever fonts the machine has
BUDGET_SECONDS = 60


def start_dev_server(stack: Stack, log: Path) -> subprocess.Popen[bytes]:
    extra = ["--ui-disable-news-fetch", "--http-port", str(free_port()), "--metrics-port", str(free_port())]
    with log.open("wb") as out:
        process = subprocess.Popen([*stack.temporal_command(), *extra], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(stack.temporal_port, timeout=30)
        wait_for_port(stack.ui_port, timeout=30)
    except BaseException:
        process.terminate()
        process.wait(30)
        raise
    return process


@pytest.mark.browser
async def test_an_auditor_reads_the_decoded_input_in_the_temporal_ui(
    settings: Settings, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    chromium_path()  # fail now, not after the servers started, when it is missing
    caplog.set_level(logging.INFO, logger="slatrack.codec")
    stack = Stack(temporal_port=free_port(), ui_port=free_port(), api_port=free_port(), data=tmp_path / "data")
    stack.data.mkdir()
    ui = f"http://127.0.0.1:{stack.ui_port}"
    auditor = create_key(engine, Role.AUDITOR, insurer_id="axa_tianping", label="ui test")
    api_settings = settings.model_copy(update={"codec_cors_origins": ui})
    temporal = TemporalSettings(address=f"127.0.0.1:{stack.temporal_port}")
    dev_server = start_dev_server(stack, tmp_path / "temporal.log")
    try:
        with serving(create_app(api_settings, temporal), port=stack.api_port) as api:
            assert f"{api}/codec" == stack.codec_endpoint
            client: Client = await connect(temporal, keys=TEST_KEYS)
            handle = await open_request(
                client,
                default_catalog(),
                task_queue="ui-browser-test",  # no worker needed: the input is in the first event
                service_id="axa.green_channel.inpatient",
                vendor_id="vendor-reliable",
                policy_no=POLICY,
                insured=Insured(NAME, "110101199001011237"),
                opened_at=datetime.now(UTC),
            )
            workflow_page = f"{ui}/namespaces/default/workflows/{handle.id}"
            async with async_playwright() as playwright:
                browser = await launch(playwright)
                try:
                    # The UI's CSP forbids eval, which Playwright's waiting on a page condition uses.
                    page = await browser.new_page(bypass_csp=True)
                    # the UI's codec setting for this browser, as the auditor sets it in the Codec Server dialog
                    await page.goto(f"{ui}/")
                    await page.evaluate(
                        f"localStorage.setItem('endpoint', JSON.stringify('{stack.codec_endpoint}'));"
                        "localStorage.setItem('includeCredentials', 'true');"
                        "localStorage.setItem('overrideRemoteCodecConfiguration', 'true');"
                    )
                    # not signed in: the codec server answers 401, the UI says so and shows nothing decoded
                    await page.goto(workflow_page)
                    await page.wait_for_function(
                        "document.body.innerText.includes('Codec Server could not connect')", timeout=30_000
                    )
                    text = await page.inner_text("body")
                    assert POLICY not in text and NAME not in text

                    # signing in: the pages' form and session (a session id in the cookie, never the key)
                    await page.goto(f"{api}/codec/login")
                    await page.fill("input[name=key]", auditor)
                    await page.click("button[type=submit]")
                    await page.wait_for_selector("#signed-in", timeout=15_000)
                    cookies = await page.context.cookies(api)
                    assert cookies and all(auditor not in cookie["value"] for cookie in cookies)

                    await page.goto(workflow_page)
                    try:
                        await page.wait_for_function(f"document.body.innerText.includes('{POLICY}')", timeout=30_000)
                    except Exception:
                        text = await page.inner_text("body")
                        raise AssertionError(f"not decoded; the page says:\n{text[:3000]}") from None
                    assert NAME in await page.inner_text("body")
                finally:
                    await browser.close()
    finally:
        dev_server.terminate()
        dev_server.wait(30)
    decodes = [r.message for r in caplog.records if r.name == "slatrack.codec" and r.message.startswith("codec decode")]
    assert any("by auditor:axa_tianping:" in message for message in decodes), decodes
    assert time.monotonic() - started < BUDGET_SECONDS
