"""Every list filter, for every role, paged through with its cursors, gives exactly the requests a
brute-force reading of every row gives (sla.engine.reading.phase_at at the query's instant), newest
first: the index-driven pages and the lag correction agree with the one definition of a clock's state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sla.calendar.timeutil import SHANGHAI
from sla.engine.reading import Phase, phase_at
from store.keys import Role, create_key
from store.models import ClockRow, RequestRow, table_of
from tests.helpers import seeded_read_side

NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
STATES = ["pending", "running", "paused", "met", "breached", "exempt", "cancelled", "at_risk"]
SCOPES = {"operations": {}, "coordinator": {"vendor_id": "vendor-late"}, "auditor": {"insurer_id": "zhongan"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with seeded_read_side(request, tmp_path, "lists", 900, NOW) as application:
        yield application


def _matches(clock: Any, state: str) -> bool:
    """The view's reading: at_risk is a running clock past its last warning; running includes it."""
    phase = phase_at(clock.phase, clock.due_at, clock.at_risk_from, NOW)
    if state == "running":
        return phase in (Phase.RUNNING, Phase.AT_RISK)
    return phase is Phase(state)


def _expected(app: Any, scope: dict[str, str], wanted: dict[str, str]) -> list[str]:
    with app.state.slatrack.engine.connect() as connection:
        requests = connection.execute(select(table_of(RequestRow))).all()
        clocks: dict[str, list[Any]] = {}
        for clock in connection.execute(select(table_of(ClockRow))):
            clocks.setdefault(clock.request_id, []).append(clock)
    found = [
        r
        for r in requests
        if all(getattr(r, k) == v for k, v in scope.items())
        and ("vendor" not in wanted or r.vendor_id == wanted["vendor"])
        and ("state" not in wanted or r.status == wanted["state"])
        and ("clock_state" not in wanted or any(_matches(c, wanted["clock_state"]) for c in clocks.get(r.id, [])))
    ]
    return [r.id for r in sorted(found, key=lambda r: (r.opened_at, r.id), reverse=True)]


async def _paged(http: httpx.AsyncClient, key: str, wanted: dict[str, str]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params = wanted | {"limit": "17"} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/v1/requests", params=params, headers={"Authorization": f"Bearer {key}"})).json()
        ids += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


async def test_every_filter_and_scope_pages_through_exactly_the_brute_force_answer(app: Any) -> None:
    engine = app.state.slatrack.engine
    keys = {
        "operations": create_key(engine, Role.OPERATIONS),
        "coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-late"),
        "auditor": create_key(engine, Role.AUDITOR, insurer_id="zhongan"),
    }
    cases = [{"clock_state": s} for s in STATES] + [
        {"state": "open", "clock_state": "at_risk"},
        {"state": "open", "clock_state": "breached"},
        {"vendor": "vendor-late", "clock_state": "breached"},
        {"vendor": "vendor-reliable", "clock_state": "at_risk"},
        {"state": "completed"},
    ]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lists") as http:
        for role, scope in SCOPES.items():
            for wanted in cases:
                expected = _expected(app, scope, wanted)
                assert await _paged(http, keys[role], wanted) == expected, (role, wanted)
    # the seed has clocks past their instant but not recorded: the lag correction was exercised
    with engine.connect() as connection:
        lagging = [
            c
            for c in connection.execute(select(table_of(ClockRow)))
            if c.phase in ("running", "at_risk") and phase_at(c.phase, c.due_at, c.at_risk_from, NOW) != c.phase
        ]
    assert lagging
