"""Shared fixtures: real Temporal (time-skipping test server), real SQLite, the real worker; the live stack
on SQLite and PostgreSQL for the api and deploy tiers. The tiers are described in tests/README.md."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from harness.chromium import launch
from harness.keys import TEST_KEYS_SETTING
from harness.servers import start_time_skipping
from runtime.settings import Settings
from store.db import init_schema, make_engine

# The suites play the manuals' 2025 scenarios today: every event is recorded a year after its effective
# time, and every stop after its clock's due instant, so each would wait for an insurer's review. They run
# without the review (worker subprocesses inherit this); tests/api/test_api_corrections.py and
# tests/workflows/test_corrections.py switch it on for their own stacks and workers.
os.environ.setdefault("SLA_REVIEW_CORRECTIONS", "false")


def pytest_configure(config: pytest.Config) -> None:
    """pyproject's testpaths lists the tiers; a test module outside them would never run, and a test that
    silently does not run looks green. Refuse to start instead."""
    tiers = [config.rootpath / path for path in config.getini("testpaths")]
    stray = [
        path for path in Path(__file__).parent.rglob("test_*.py") if not any(path.is_relative_to(t) for t in tiers)
    ]
    if stray:
        names = ", ".join(str(path.relative_to(config.rootpath)) for path in stray)
        raise pytest.UsageError(f"{names}: outside the tiers in testpaths (tests/README.md), never collected")


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


@pytest.fixture
def calendar_dir(tmp_path: Path) -> Path:
    path = tmp_path / "calendars"
    path.mkdir()
    return path


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(f"sqlite:///{tmp_path / 'read-model.db'}")
    init_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, calendar_dir: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'read-model.db'}",
        calendar_dir=calendar_dir,
        payload_keys=TEST_KEYS_SETTING,
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        webhook_allow_loopback=True,  # the webhook receivers of the tests listen on 127.0.0.1
        # In the sandbox, as Temporal's guard: a non-deterministic call on a path these tests run fails
        # them. The processes of the live stack and the end-to-end tests run unsandboxed, as deployed.
        workflow_sandbox=True,
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for the session; tests take fresh databases from it."""
    from harness.postgres import PostgresServer

    server = PostgresServer()
    server.init()
    server.start()
    yield server
    server.stop()
    server.remove()


@pytest_asyncio.fixture(scope="session", params=["sqlite", "postgresql"])
async def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """Dev server + worker + API over HTTP, shared by the HTTP test modules; once on SQLite and once on
    PostgreSQL (SQLite serializes writers and would hide races)."""
    from harness.live_stack import LiveStack

    database_url = request.getfixturevalue("postgres").new_database("live") if request.param == "postgresql" else None
    stack = await LiveStack.start(Path(tmp_path_factory.mktemp("live")), database_url)
    yield stack
    await stack.stop()


@pytest_asyncio.fixture(scope="session")
async def http(live: Any) -> AsyncIterator[Any]:
    import httpx

    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        yield client


@pytest_asyncio.fixture
async def chromium() -> AsyncIterator[Any]:
    """Debian's chromium under Playwright (harness/chromium.py), for the pages' browser tests."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await launch(playwright)
        yield browser
        await browser.close()
