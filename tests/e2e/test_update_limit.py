"""Issue 24: one request takes events past Temporal's per-run update limit. The dev server runs with
the limit lowered (history.maxTotalUpdates=40, so it suggests continuing as new at 36); the request
takes 120 events over HTTP, completes, and its audit pack verifies every run's history. Before the
request continued as new, the 40th update was refused and every later event answered 502."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from harness.live_stack import LiveStack
from store.models import EventRow, HistoryArchiveRow, RequestRow
from tests.helpers import CST, open_request, rows, send

UPDATE_LIMIT = 40
EVENTS = 120


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgresql"])
async def limited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveStack]:
    """A whole stack whose Temporal server refuses a run's updates past UPDATE_LIMIT."""
    database_url = request.getfixturevalue("postgres").new_database("limit") if request.param == "postgresql" else None
    directory = Path(tmp_path_factory.mktemp("limit"))
    stack = await LiveStack.start(directory, database_url, (f"history.maxTotalUpdates={UPDATE_LIMIT}",))
    yield stack
    await stack.stop()


async def archived_pack(http: httpx.AsyncClient, live: LiveStack, request_id: str) -> dict[str, Any]:
    for _ in range(200):
        answer = await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("auditor"))
        pack: dict[str, Any] = answer.json()
        if pack["history"] and pack["history"]["origin"] == "archive":
            return pack
        await asyncio.sleep(0.1)
    raise AssertionError("the last run was never archived")


async def test_a_request_takes_events_past_temporals_update_limit_completes_and_audits_across_runs(
    limited: LiveStack,
) -> None:
    live = limited
    # Effective times an hour back, a second apart: whatever the wall clock says, none is in the future
    # and none of the clocks (working days) can fall due in between.
    opened = datetime.now(CST).replace(microsecond=0) - timedelta(hours=1)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
        created = await open_request(http, live, opened_at=opened.isoformat())
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        answers = []
        for n in range(EVENTS):
            kind = "materials_incomplete" if n % 2 == 0 else "materials_complete"
            answers.append((await send(http, live, request_id, kind, opened + timedelta(seconds=n + 1))).status_code)
        assert answers == [200] * EVENTS  # the old code answered 502 from the 40th on
        closed = await send(http, live, request_id, "customer_cancelled", opened + timedelta(seconds=EVENTS + 1))
        assert closed.status_code == 200 and closed.json()["status"] == "cancelled", closed.text

        pack = await archived_pack(http, live, request_id)
        assert pack["replay"]["verified"] is True, pack["replay"]
        runs = pack["history"]["runs"]
        assert len(runs) >= EVENTS // UPDATE_LIMIT  # it continued as new before each limit
        assert pack["replay"]["runs_verified"] == len(runs)
        assert [r["run"] for r in runs] == list(range(1, len(runs) + 1))
        assert pack["history"]["archived_sha256_matches"] is True
        assert len(pack["events"]) == EVENTS + 2  # opened, the 120, cancelled
        raw = (await http.get(f"/v1/requests/{request_id}/history", headers=live.headers("auditor"))).json()
        assert [r["run_id"] for r in raw["runs"]] == [r["run_id"] for r in runs]
        view = (await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))).json()
        assert len(view["events"]) == EVENTS + 2 and view["status"] == "cancelled"

    [row] = rows(live.engine, RequestRow, id=request_id)
    assert row.status == "cancelled" and row.written_run == len(runs)
    assert len(rows(live.engine, EventRow, request_id=request_id)) == EVENTS + 2
    archive = rows(live.engine, HistoryArchiveRow, request_id=request_id)
    assert sorted(a.run for a in archive) == list(range(1, len(runs) + 1))
    print(f"{EVENTS + 2} events in {len(runs)} runs; {EVENTS + 2 - UPDATE_LIMIT} past the per-run limit")


async def test_ten_coordinators_at_once_see_every_event_recorded_once_across_the_handovers(
    limited: LiveStack,
) -> None:
    """While a run hands over, the server refuses updates past its limit (10 in flight reach 40 before
    the run at 36 continues as new): the API sends the same Update again a moment later, and it lands
    on the new run. Measured before that: 3 of 120 events answered 502, one of them twice."""
    live = limited
    opened = datetime.now(CST).replace(microsecond=0) - timedelta(hours=1)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
        created = await open_request(
            http, live, service_id="pingan_health.green_channel.outpatient", opened_at=opened.isoformat()
        )
        request_id = created.json()["id"]

        async def one(n: int) -> int:
            when = opened + timedelta(seconds=n + 1)
            return (await send(http, live, request_id, "follow_up_done", when, key=f"burst-{n}")).status_code

        statuses = []
        for batch in range(EVENTS // 10):
            statuses += await asyncio.gather(*(one(batch * 10 + i) for i in range(10)))
    assert statuses == [200] * EVENTS
    seqs = sorted(e.seq for e in rows(live.engine, EventRow, request_id=request_id))
    assert seqs == list(range(1, EVENTS + 2))  # opened and the 120, each once
    assert rows(live.engine, RequestRow, id=request_id)[0].written_run >= EVENTS // UPDATE_LIMIT
