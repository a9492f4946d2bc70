"""The whole stack at each of the 24 hours of a Shanghai day (00:00-08:00 +08:00 is the day before in
UTC): the time-skipping Temporal server moves through the day hour by hour, the API's clock follows
it, and at each hour a request is opened, a year is dry-run and then really loaded, and the view, the
list filters and /metrics are read. Every deadline is 24:00 of its day, the dry run predicts exactly
what the load does, and no answer depends on the hour."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from harness.keys import TEST_KEYS_SETTING
from harness.servers import start_time_skipping
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from sla.calendar.timeutil import SHANGHAI
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from store.models import VendorRow
from worker.build import build_worker

SERVICE, CLOCK = "axa.zhuoyue.japan_medical", "complete_arrangement"  # 40 working days [002:479]
METRICS_TOKEN = "every-hour-metrics"


class FollowingClock:
    """The API's now: the test server's virtual time, as of the last sync, plus real time since."""

    def __init__(self) -> None:
        self.virtual, self.real = datetime.now(SHANGHAI), time.monotonic()

    def sync(self, virtual: datetime) -> None:
        self.virtual, self.real = virtual, time.monotonic()

    def __call__(self) -> datetime:
        return self.virtual + timedelta(seconds=time.monotonic() - self.real)


@dataclass
class Day:
    env: WorkflowEnvironment
    clock: FollowingClock
    http: httpx.AsyncClient
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def advance_to_hour(self, hour: int) -> datetime:
        """Sleep (virtual time) to the next hour:20 +08:00."""
        now = (await self.env.get_current_time()).astimezone(SHANGHAI)
        target = now.replace(hour=hour, minute=20, second=0, microsecond=0)
        if target <= now:
            target += timedelta(days=1)
        await self.env.sleep(target - now)
        current = (await self.env.get_current_time()).astimezone(SHANGHAI)
        self.clock.sync(current)
        return current


@pytest_asyncio.fixture
async def day(tmp_path: Path) -> AsyncIterator[Day]:
    env = await start_time_skipping()  # this test moves the clock by a day: its own server
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'read-model.db'}",
        calendar_dir=tmp_path,
        payload_keys=TEST_KEYS_SETTING,
        task_queue="every-hour",
        metrics_token=METRICS_TOKEN,
        blind_index_key=base64.b64encode(
            b"every-hour-blind-index-key, 32 bytes"
        ).decode(),  # quotas count as in production
    )
    engine = make_engine(settings.database_url)
    init_schema(engine)
    with Session(engine) as session:
        session.add(VendorRow(id="vendor-reliable", name="Reliable (test)"))
        session.commit()
    keys = {
        "coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-reliable"),
        "admin": create_key(engine, Role.ADMIN),
        "operations": create_key(engine, Role.OPERATIONS),
    }
    clock = FollowingClock()
    clock.sync((await env.get_current_time()).astimezone(SHANGHAI))
    app = create_app(settings, TemporalSettings(address=env.client.service_client.config.target_host), clock=clock)
    try:
        async with build_worker(env.client, settings, engine):
            with serving(app) as url:
                async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                    yield Day(env, clock, http, keys)
    finally:
        engine.dispose()
        await env.shutdown()


def overlay(year: int, hour: int) -> dict[str, Any]:
    """A different year each load: on odd hours the second Wednesday of January is a holiday too, so
    every real load moves the deadlines it can reach by a working day (back and forth)."""
    second_wednesday = next(date(year, 1, d) for d in range(8, 15) if date(year, 1, d).weekday() == 2)
    holidays = [date(year, 1, 1), *(d for d in (date(year, 2, x) for x in range(8, 15)) if d.weekday() < 5)]
    if hour % 2:
        holidays.append(second_wednesday)
    return {
        "source": {
            "title": f"国务院办公厅关于{year}年部分节假日安排的通知 (test data, hour {hour})",
            "number": f"TEST-{hour}",
            "date": f"{year - 1}-11-01",
        },
        "holidays": sorted(d.isoformat() for d in holidays if d.weekday() < 5),
        "makeup_workdays": [],
    }


def at_midnight(text: str) -> bool:
    instant = datetime.fromisoformat(text)
    return text.endswith("+08:00") and (instant.hour, instant.minute, instant.second, instant.microsecond) == (
        0,
        0,
        0,
        0,
    )


def gauge(metrics: str, state: str) -> float:
    pattern = rf'^sla_clocks_open\{{[^}}]*clock="{CLOCK}"[^}}]*state="{state}"[^}}]*\}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, metrics, re.M))


async def test_deadlines_dry_runs_loads_views_lists_and_metrics_hold_at_every_hour_of_the_day(day: Day) -> None:
    opened: list[str] = []
    seen_hours = set()
    for hour in [*range(8, 24), *range(8)]:  # from the next 08:20 round the clock; 00-07 is the UTC day before
        now = await day.advance_to_hour(hour)
        seen_hours.add(now.hour)

        # On odd hours the instants are sent in UTC ("Z"): the date then differs from Shanghai's from
        # 00:00 to 08:00, and nothing may depend on the offset an instant is written in.
        def written(instant: datetime, in_utc: bool = hour % 2 == 1) -> str:
            return instant.astimezone(UTC).isoformat().replace("+00:00", "Z") if in_utc else instant.isoformat()

        answer = await day.http.post(
            "/v1/requests",
            json={
                "service_id": SERVICE,
                "vendor_id": "vendor-reliable",
                "policy_no": f"P-HOUR-{hour:02}",
                "insured": {"name": "每小时", "id_number": "110101199001011234"},
                "opened_at": written(day.clock() - timedelta(seconds=5)),
            },
            headers=day.headers("coordinator"),
        )
        assert answer.status_code == 201, answer.text
        request_id = answer.json()["id"]
        opened.append(request_id)
        sent = await day.http.post(
            f"/v1/requests/{request_id}/events",
            json={"type": "materials_complete", "occurred_at": written(day.clock())},
            headers=day.headers("coordinator"),
        )
        assert sent.status_code == 200, (hour, sent.text)
        clocks = {c["clock_id"]: c for c in sent.json()["clocks"]}
        due = clocks[CLOCK]["due_at"]
        assert at_midnight(due), (hour, due)  # 40 working days: 24:00 of the 40th, whatever the hour
        assert clocks[CLOCK]["started_at"].endswith("+08:00")
        year = datetime.fromisoformat(due).year

        body = overlay(year, hour)
        dry = await day.http.put(
            f"/v1/calendar/{year}", params={"dry_run": "true"}, json=body, headers=day.headers("admin")
        )
        assert dry.status_code == 200, (hour, dry.text)
        predicted = {(m["request_id"], m["clock_id"]): m for m in dry.json()["moves"]}
        assert (request_id, CLOCK) in predicted, (hour, "every load moves this request's deadline")
        for move in predicted.values():
            assert at_midnight(move["new_due_at"]) and at_midnight(move["old_due_at"]), (hour, move)
            assert datetime.fromisoformat(move["old_due_at"]) > datetime(year, 1, 1, tzinfo=SHANGHAI), (hour, move)

        loaded = await day.http.put(f"/v1/calendar/{year}", json=body, headers=day.headers("admin"))
        assert loaded.status_code == 200, (hour, loaded.text)
        # The load does exactly what the dry run said, for every request it reaches.
        for (rid, clock_id), move in predicted.items():
            for _ in range(200):
                view = (await day.http.get(f"/v1/requests/{rid}", headers=day.headers("operations"))).json()
                current = next(c for c in view["clocks"] if c["clock_id"] == clock_id)
                if current["due_at"] == move["new_due_at"]:
                    break
                await asyncio.sleep(0.05)
            assert current["due_at"] == move["new_due_at"], (hour, rid, clock_id, move, current)
            assert current["provisional"] is move["new_provisional"]

        # Lists and /metrics read every clock as running: none is due before 2027.
        running = await day.http.get(
            "/v1/requests", params={"clock_state": "running", "limit": 100}, headers=day.headers("coordinator")
        )
        assert set(opened) <= {item["id"] for item in running.json()["items"]}, hour
        breached = await day.http.get(
            "/v1/requests", params={"clock_state": "breached", "limit": 100}, headers=day.headers("operations")
        )
        assert not set(opened) & {item["id"] for item in breached.json()["items"]}, hour
        metrics = (await day.http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
        assert gauge(metrics, "running") == len(opened) and gauge(metrics, "breached") == 0, (hour, metrics[-2000:])
    assert seen_hours == set(range(24))
