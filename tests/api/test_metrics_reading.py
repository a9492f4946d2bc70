"""/metrics says what the one reading of a clock (sla.engine.reading) says of every row: the open
clocks by phase at the instant of the scrape (a clock past due but not recorded yet counts as
breached, one past its last warning as at risk), the outcomes, the open requests. On SQLite and
PostgreSQL, on a read model seeded with such lagging clocks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from harness.readmodel import METRICS_TOKEN
from sla.calendar.timeutil import SHANGHAI
from sla.engine.reading import counts_as_open, phase_at
from store.models import ClockRow, RequestRow, table_of
from tests.helpers import seeded_read_side

NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
SAMPLE = re.compile(r"^(sla_clocks_open|sla_clock_outcomes_total|sla_requests_open)\{([^}]*)\} (\S+)$", re.M)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with seeded_read_side(request, tmp_path, "metrics", 1500, NOW) as application:
        yield application


def _scraped(text: str) -> dict[str, Counter[tuple[str, ...]]]:
    found: dict[str, Counter[tuple[str, ...]]] = {}
    for family, labels, value in SAMPLE.findall(text):
        key = tuple(sorted(labels.split(",")))
        found.setdefault(family, Counter())[key] += int(float(value))
    return {family: +counts for family, counts in found.items()}


def _read_rows(app: Any) -> dict[str, Counter[tuple[str, ...]]]:
    with app.state.slatrack.engine.connect() as connection:
        requests = {r.id: r for r in connection.execute(select(table_of(RequestRow)))}
        clocks = connection.execute(select(table_of(ClockRow))).all()
    open_clocks: Counter[tuple[str, ...]] = Counter()
    outcomes: Counter[tuple[str, ...]] = Counter()
    for c in clocks:
        labels = [
            f'insurer="{c.insurer_id}"',
            f'vendor="{c.vendor_id}"',
            f'service="{c.service_id}"',
            f'clock="{c.clock_id}"',
            f'party="{c.party}"',
        ]
        if counts_as_open(requests[c.request_id].status, c.state, c.stopped_at):
            state = phase_at(c.phase, c.due_at, c.at_risk_from, NOW).value
            open_clocks[tuple(sorted([*labels, f'state="{state}"']))] += 1
        if c.outcome is not None:
            outcomes[tuple(sorted([*labels, f'outcome="{c.outcome}"']))] += 1
    open_requests = Counter(
        tuple(sorted([f'insurer="{r.insurer_id}"', f'vendor="{r.vendor_id}"', f'service="{r.service_id}"']))
        for r in requests.values()
        if r.status == "open"
    )
    return {"sla_clocks_open": open_clocks, "sla_clock_outcomes_total": outcomes, "sla_requests_open": open_requests}


async def test_the_scrape_equals_the_one_reading_of_every_row_at_its_instant(app: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as http:
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    scraped, expected = _scraped(text), _read_rows(app)
    for family, counts in expected.items():
        assert scraped.get(family, Counter()) == counts, family
    lagging = {state for key in expected["sla_clocks_open"] for state in key if state.startswith("state=")}
    assert {'state="breached"', 'state="at_risk"'} <= lagging
