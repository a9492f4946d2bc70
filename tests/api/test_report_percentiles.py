"""The compliance report's p50/p90 from the tally, worked out by the database (window sums over the
bins), equal what the domain's percentile gives on every value, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.compliance import Scope, _percentiles_from_tally
from sla.reports import QUANTILES, weighted_percentile
from store.db import init_schema, make_engine
from store.models import WorkingDaysTallyRow, table_of
from tests.helpers import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(fresh_database(request, tmp_path, "percentiles"))
    init_schema(db)
    yield db
    db.dispose()


def test_percentiles_from_the_tally_equal_the_domain_percentile_of_every_value(engine: Engine) -> None:
    rng = random.Random(3)
    expected: dict[tuple[str, str, str, str], list[tuple[float, int]]] = {}
    rows = []
    for series in range(12):
        key = ("vendor-a" if series % 2 else "vendor-b", f"service.{series}", "clock", "vendor")
        bins = rng.sample(range(1, 150), rng.randint(1, 40))  # one bin or many; sizes 1..30
        for tenths in bins:
            count = rng.randint(1, 30)
            expected.setdefault(key, []).append((tenths / 10, count))
            rows.append(
                {
                    "insurer_id": "insurer",
                    "vendor_id": key[0],
                    "service_id": key[1],
                    "clock_id": key[2],
                    "party": key[3],
                    "working_days_tenths": tenths,
                    "count": count,
                }
            )
    with engine.begin() as connection:
        connection.execute(table_of(WorkingDaysTallyRow).insert(), rows)
    with engine.connect() as connection:
        found = _percentiles_from_tally(connection, Scope())
        only_a = _percentiles_from_tally(connection, Scope(vendor="vendor-a"))
    assert found == {key: tuple(weighted_percentile(values, q) for q in QUANTILES) for key, values in expected.items()}
    assert set(only_a) == {key for key in expected if key[0] == "vendor-a"}
