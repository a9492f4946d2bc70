"""Debian's chromium under Playwright for Python: the one browser the tests and `make screenshots`
drive. Playwright is given the system binary (executable_path); it never downloads a browser."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """The system chromium; a browser test fails (never skips) without it: `make system-deps`."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed (Debian package chromium; `make system-deps`)")
    return path


async def launch(playwright: Any) -> Any:
    """A headless Chromium browser (playwright.async_api.Browser)."""
    return await playwright.chromium.launch(executable_path=chromium_path(), args=ARGS, headless=True)


async def signed_in_page(browser: Any, base_url: str, key: str) -> Any:
    """A fresh context (zh-CN, 1280x900) signed in on the login form with `key`, landed on the list.
    Every dialog the page opens is recorded in `page.dialogs` (a hostile note must open none)."""
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: page.dialogs.append(dialog.message))
    await page.goto(f"{base_url}/requests")
    assert "/login" in page.url  # not signed in: the form
    await page.fill("input[name=key]", key)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/requests")
    return page
