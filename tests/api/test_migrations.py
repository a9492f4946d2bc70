"""The schema on both backends: migrations from empty, the models and the migrations agree, a
read model of the first schema is carried over with its tallies, and instants round-trip aware."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text
from sqlmodel import SQLModel

from harness.postgres import PostgresServer
from harness.readmodel_checks import assert_tallies_exact
from store.db import alembic_config, init_schema, make_engine
from store.models import ClockOutcomeRow, ClockRow, OutcomeTallyRow, RequestRow, table_of
from tests.helpers import CST, at

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        engine = make_engine(server.new_database("migrations"))
    yield engine
    engine.dispose()


def test_the_migrations_build_exactly_the_models_schema_from_empty(empty_database: Engine) -> None:
    init_schema(empty_database)
    init_schema(empty_database)  # idempotent
    with empty_database.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        difference = compare_metadata(context, SQLModel.metadata)
    assert difference == [], difference


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _seed_first_schema(engine: Engine) -> None:
    """A read model as the first schema wrote it: one open request with a running clock past its last
    warning, one completed request with a met clock and a breached one."""
    thresholds = [{"fraction": 0.5, "at": "2025-10-01T00:00:00+08:00", "fired": True}]
    with engine.begin() as connection:
        for rid, status, closed in (("r-open", "open", None), ("r-done", "completed", "2025-10-20 02:00:00")):
            connection.execute(
                text(
                    "INSERT INTO request (id, service_id, catalog_version, catalog_digest, insurer_id, vendor_id,"
                    " status, opened_at, closed_at, revision, calendar_fingerprint, calendar_sources, pinned_terms,"
                    " updated_at) VALUES (:id, 'axa.green_channel.inpatient', 1, 'd', 'axa_tianping', 'vendor-a',"
                    " :status, '2025-09-25 01:00:00', :closed, 3, 'f', '{}', NULL, '2025-10-20 02:00:00')"
                ),
                {"id": rid, "status": status, "closed": closed},
            )
        clocks = [
            ("r-open", "arrange_admission", "running", None, 2.5, False, None, json.dumps(thresholds)),
            ("r-done", "arrange_admission", "met", "met", 7.43, False, "2025-10-15 02:00:00", "[]"),
            ("r-done", "notify", "breached", "breached", 1.2, False, "2025-10-16 02:00:00", "[]"),
        ]
        for rid, clock, state, outcome, days, provisional, stopped, thresholds_json in clocks:
            connection.execute(
                text(
                    "INSERT INTO request_clock (request_id, clock_id, insurer_id, vendor_id, service_id, state,"
                    " outcome, due_at, stopped_at, budget_seconds, elapsed_seconds, working_days_used, provisional,"
                    " cycle, thresholds, timeline) VALUES (:rid, :clock, 'axa_tianping', 'vendor-a',"
                    " 'axa.green_channel.inpatient', :state, :outcome, '2025-10-16 16:00:00', :stopped, 864000,"
                    " 216000, :days, :provisional, 1, :thresholds, '[]')"
                ),
                {
                    "rid": rid,
                    "clock": clock,
                    "state": state,
                    "outcome": outcome,
                    "days": days,
                    "provisional": provisional,
                    "stopped": stopped,
                    "thresholds": thresholds_json,
                },
            )
            if outcome:
                connection.execute(
                    text(
                        "INSERT INTO clock_outcome (request_id, clock_id, insurer_id, vendor_id, service_id, outcome,"
                        " outcome_at, working_days_used, recorded_at, corrected) VALUES (:rid, :clock,"
                        " 'axa_tianping', 'vendor-a', 'axa.green_channel.inpatient', :outcome, :stopped, :days,"
                        " :stopped, false)"
                    ),
                    {"rid": rid, "clock": clock, "outcome": outcome, "stopped": stopped, "days": days},
                )
        connection.execute(
            text(
                "INSERT INTO request_event (request_id, seq, type, occurred_at, received_at, sender, data) VALUES"
                " ('r-done', 2, 'service_completed', '2025-10-19 16:30:00', '2025-10-20 02:00:00', 'c', '{}')"
            )
        )


def test_a_read_model_of_the_first_schema_is_carried_over_with_exact_tallies(empty_database: Engine) -> None:
    _upgrade(empty_database, "0001")
    _seed_first_schema(empty_database)
    _upgrade(empty_database, "head")
    with empty_database.connect() as connection:
        requests = {r.id: r for r in connection.execute(select(table_of(RequestRow)))}
        clocks = {(c.request_id, c.clock_id): c for c in connection.execute(select(table_of(ClockRow)))}
        outcomes = connection.execute(select(table_of(ClockOutcomeRow))).all()
        tally = connection.execute(select(table_of(OutcomeTallyRow))).all()
    assert requests["r-done"].closed_at == at(2025, 10, 20, 0, 30)  # the closing event's effective time
    assert requests["r-done"].closed_received_at == at(2025, 10, 20, 10)
    assert clocks[("r-open", "arrange_admission")].phase == "at_risk"  # its last warning had fired
    assert clocks[("r-open", "arrange_admission")].opened_at == at(2025, 9, 25, 9)
    assert {(o.clock_id, o.instance) for o in outcomes} == {("arrange_admission", 1), ("notify", 1)}
    # 1.2 working days fall in the bucket <= 2 (index 2), 7.43 in <= 8 (index 5)
    assert sorted((t.outcome, t.working_days_bucket, t.count) for t in tally) == [("breached", 2, 1), ("met", 5, 1)]
    assert_tallies_exact(empty_database)


def test_a_clock_its_pinned_terms_say_the_insurer_owes_is_carried_over_under_the_insurer(
    empty_database: Engine,
) -> None:
    _upgrade(empty_database, "0001")
    _seed_first_schema(empty_database)
    _upgrade(empty_database, "0003")
    pinned = {"id": "axa.green_channel.inpatient", "clocks": [{"id": "notify", "party": "insurer"}, {"id": "x"}]}
    with empty_database.begin() as connection:
        connection.execute(
            table_of(RequestRow).update().where(table_of(RequestRow).c.id == "r-done").values(pinned_terms=pinned)
        )
    _upgrade(empty_database, "head")
    with empty_database.connect() as connection:
        clocks = {(c.request_id, c.clock_id): c.party for c in connection.execute(select(table_of(ClockRow)))}
        outcomes = {o.clock_id: o.party for o in connection.execute(select(table_of(ClockOutcomeRow)))}
        tally = connection.execute(select(table_of(OutcomeTallyRow))).all()
    assert clocks == {
        ("r-open", "arrange_admission"): "vendor",
        ("r-done", "arrange_admission"): "vendor",
        ("r-done", "notify"): "insurer",
    }
    assert outcomes == {"arrange_admission": "vendor", "notify": "insurer"}
    assert sorted((t.clock_id, t.party, t.outcome) for t in tally) == [
        ("arrange_admission", "vendor", "met"),
        ("notify", "insurer", "breached"),
    ]
    assert_tallies_exact(empty_database)


def test_instants_round_trip_timezone_aware_on_both_backends(empty_database: Engine) -> None:
    init_schema(empty_database)
    instant = at(2025, 10, 1, 0, 30)  # 2025-09-30 in UTC: the date differs
    row: dict[str, Any] = {
        "id": "r-instant",
        "service_id": "s",
        "catalog_version": 1,
        "catalog_digest": "d",
        "insurer_id": "i",
        "vendor_id": "v",
        "status": "open",
        "opened_at": instant,
        "revision": 1,
        "calendar_fingerprint": "f",
        "updated_at": instant.astimezone(UTC) + timedelta(hours=1),
    }
    with empty_database.begin() as connection:
        connection.execute(table_of(RequestRow).insert().values(**row))
    with empty_database.connect() as connection:
        back = connection.execute(select(table_of(RequestRow))).one()
    assert back.opened_at == instant and back.opened_at.tzinfo is not None
    assert back.opened_at.astimezone(CST).date().isoformat() == "2025-10-01"
