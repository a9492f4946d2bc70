"""Many coordinators at once on one request: every acknowledged event in the read model exactly once,
in the workflow's order; concurrent opens with one external_ref make one request; /healthz answers
throughout.

The scenario `python -m bench.concurrency` measures (bench/concurrency.py) and
tests/api/test_concurrency.py run in `make test`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from temporalio.client import Client

from store.models import EventRow, RequestRow, table_of
from workflows.ids import request_workflow_id
from workflows.service_request import ServiceRequestWorkflow

SERVICE = "pingan_health.green_channel.admission"  # accepts follow_up_done any number of times
INSURED = {"name": "并发测试", "id_number": "110101199001011234"}


@dataclass
class HealthProbe:
    """GET /healthz every 50 ms while a burst runs; the slowest answer and the failures."""

    http: httpx.AsyncClient
    slowest: float = 0.0
    failures: int = 0
    probes: int = 0
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            try:
                answer = await self.http.get("/healthz", timeout=1.0)
                if answer.status_code != 200:
                    self.failures += 1
            except httpx.HTTPError:
                self.failures += 1
            self.slowest = max(self.slowest, time.perf_counter() - started)
            self.probes += 1
            await asyncio.sleep(0.05)

    def __enter__(self) -> HealthProbe:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@dataclass
class Round:
    statuses: dict[int, int] = field(default_factory=dict)
    duplicated: list[str] = field(default_factory=list)  # keys stored more than once
    missing: list[str] = field(default_factory=list)  # acknowledged, not in the read model
    unacknowledged_but_recorded: list[str] = field(default_factory=list)  # a 5xx that hid a recorded event
    out_of_order: bool = False
    healthz_slowest: float = 0.0
    healthz_failures: int = 0
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.duplicated or self.missing or self.unacknowledged_but_recorded or self.out_of_order)


def client_limits(events: int) -> httpx.Limits:
    """A connection per concurrent call; idle ones dropped before uvicorn's keep-alive timeout (5 s)
    closes them, so no call goes out on a connection the server is closing (one did, between rounds:
    no answer, nothing recorded, a client-side race that is not the API's)."""
    return httpx.Limits(max_connections=events * 2 + 10, keepalive_expiry=2.0)


async def open_request(http: httpx.AsyncClient, headers: dict[str, str], vendor: str, **extra: Any) -> httpx.Response:
    body = {"service_id": SERVICE, "vendor_id": vendor, "policy_no": "P-CONC-1", "insured": INSURED} | extra
    return await http.post("/v1/requests", json=body, headers=headers)


def stored_events(engine: Engine, request_id: str) -> list[tuple[int, str | None]]:
    events = table_of(EventRow)
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.seq, events.c.idempotency_key).where(events.c.request_id == request_id)
        ).all()
    return sorted((r.seq, r.idempotency_key) for r in rows)


def _distinct_events(opened_at: str, n: int) -> dict[str, dict[str, Any]]:
    """n events by their Idempotency-Key: effective times after the opening (an event may not precede it),
    a millisecond apart, none in the future."""
    start = datetime.fromisoformat(opened_at)
    keys = [f"burst-{uuid.uuid4().hex[:12]}" for _ in range(n)]
    return {
        key: {"type": "follow_up_done", "occurred_at": (start + timedelta(milliseconds=i + 1)).isoformat(), "data": {}}
        for i, key in enumerate(keys)
    }


async def _check_recorded_once(
    result: Round, engine: Engine, client: Client, request_id: str, sent: set[str], acknowledged: set[str]
) -> None:
    """Each acknowledged event stored exactly once, nothing unacknowledged stored, and the stored log in
    the workflow's order."""
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
    workflow_events = [
        (e.seq, e.idempotency_key) for e in (await handle.query(ServiceRequestWorkflow.get_status)).events
    ]
    stored = stored_events(engine, request_id)
    stored_keys = [k for _, k in stored if k in sent]
    result.duplicated = sorted({k for k in stored_keys if stored_keys.count(k) > 1})
    result.missing = sorted(acknowledged - set(stored_keys))
    result.unacknowledged_but_recorded = sorted(set(stored_keys) - acknowledged)
    result.out_of_order = stored != workflow_events


async def event_burst(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    engine: Engine,
    client: Client,
    vendor: str,
    n: int,
    retries: int = 5,
) -> Round:
    """One round: a new request, n distinct events at once, `retries` of them sent again at once."""
    result = Round()
    opened = (await open_request(http, headers, vendor)).json()
    request_id = opened["id"]
    bodies = _distinct_events(opened["opened_at"], n)
    keys = list(bodies)

    async def send(key: str) -> int:
        try:
            answer = await http.post(
                f"/v1/requests/{request_id}/events", json=bodies[key], headers=headers | {"Idempotency-Key": key}
            )
            return answer.status_code
        except httpx.HTTPError:
            return 0

    started = time.perf_counter()
    with HealthProbe(http) as probe:
        codes = await asyncio.gather(*(send(k) for k in keys))
        again = await asyncio.gather(*(send(k) for k in keys[:retries]))
    result.seconds = time.perf_counter() - started
    result.healthz_slowest, result.healthz_failures = probe.slowest, probe.failures
    for code in [*codes, *again]:
        result.statuses[code] = result.statuses.get(code, 0) + 1
    acknowledged = {k for k, c in zip(keys, codes, strict=True) if c == 200}
    await _check_recorded_once(result, engine, client, request_id, set(bodies), acknowledged)
    return result


async def open_burst(
    http: httpx.AsyncClient, headers: dict[str, str], engine: Engine, vendor: str, n: int
) -> dict[str, Any]:
    """n opens at once with one external_ref: one request, one 201, the rest 200 with the same id."""
    ref = f"conc-{uuid.uuid4().hex[:10]}"
    answers = await asyncio.gather(*(open_request(http, headers, vendor, external_ref=ref) for _ in range(n)))
    ids = {a.json().get("id") for a in answers if a.status_code in (200, 201)}
    requests = table_of(RequestRow)
    with engine.connect() as connection:
        stored = connection.execute(select(requests.c.id).where(requests.c.external_ref == ref)).all()
    return {
        "statuses": sorted(a.status_code for a in answers),
        "ids": ids,
        "stored": len(stored),
    }
