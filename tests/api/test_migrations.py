"""The schema on both backends: migrations from empty, the models and the migrations agree, a
database of the chain squashed before the first release is refused, and instants round-trip aware."""

from __future__ import annotations

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
from store.db import alembic_config, init_schema, make_engine
from store.models import RequestRow, table_of
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


def test_a_database_made_before_the_migrations_were_squashed_is_refused_with_how_to_recreate_it(
    empty_database: Engine,
) -> None:
    with empty_database.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0007')"))
    with pytest.raises(RuntimeError, match=r"revision 0007, which store/migrations does not have") as refused:
        init_schema(empty_database)
    assert "slatrack db rebuild" in str(refused.value)
    with empty_database.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0007"


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


def test_a_sqlite_database_at_the_first_release_gets_its_month_tables_without_rowid_with_their_rows(
    tmp_path: Path,
) -> None:
    """0002: the month tables of a database made at 0001 are copied into WITHOUT ROWID tables, rows kept."""
    engine = make_engine(f"sqlite:///{tmp_path / 'first-release.db'}")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001_initial_schema")
        connection.execute(
            text(
                "INSERT INTO month_tally (month, insurer_id, vendor_id, service_id, clock_id, party, standing,"
                " past_due_at_end, count) VALUES ('2025-10', 'axa', 'vendor-a', 's', 'c', 'vendor', 'met', 0, 7)"
            )
        )

    def definitions() -> dict[str, str]:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE name LIKE 'month_%'"))
            return {name: sql for name, sql in rows if sql}

    assert not any("WITHOUT ROWID" in sql for sql in definitions().values())
    init_schema(engine)
    after = definitions()
    assert "WITHOUT ROWID" in after["month_tally"] and "WITHOUT ROWID" in after["month_percentile"]
    assert "WITHOUT ROWID" not in after["month_days_tally"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count FROM month_tally WHERE month = '2025-10'")).scalar_one() == 7
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()
