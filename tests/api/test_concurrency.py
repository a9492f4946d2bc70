"""Many coordinators at once on one request, on SQLite and PostgreSQL (harness/concurrency.py; `python -m
bench.concurrency` runs the same probe at N = 50 x 20 rounds): every acknowledged event in the read
model exactly once and in the workflow's order, retries applied once, one request for concurrent opens
with one external_ref, /healthz answering within a second throughout, and the tallies equal to their
rows."""

from __future__ import annotations

from typing import Any

import httpx

from harness.concurrency import client_limits, event_burst, open_burst
from harness.readmodel_checks import assert_tallies_exact

EVENTS = 24


async def test_concurrent_events_on_one_request_are_each_in_the_view_once_in_the_workflows_order(live: Any) -> None:
    limits = client_limits(EVENTS)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60, limits=limits) as http:
        for _ in range(2):
            burst = await event_burst(
                http, live.headers("coordinator"), live.engine, live.client, "vendor-reliable", EVENTS
            )
            assert burst.statuses == {200: EVENTS + 5}, burst.statuses  # retries answer 200 and add nothing
            assert burst.clean, burst
            assert burst.healthz_failures == 0 and burst.healthz_slowest < 1.0, burst
    assert_tallies_exact(live.engine)


async def test_concurrent_opens_with_one_external_ref_make_one_request_and_one_201(live: Any) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as http:
        opens = await open_burst(http, live.headers("coordinator"), live.engine, "vendor-reliable", 12)
    assert opens["statuses"] == [200] * 11 + [201], opens
    assert len(opens["ids"]) == 1 and opens["stored"] == 1
