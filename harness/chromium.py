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
