"""INSERT ... ON CONFLICT for SQLite and PostgreSQL (SQLAlchemy Core, no ORM flush): the projection's
writes are upserts keyed by the tables' primary keys, so a retried write is a no-op."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel


def _table(model: type[SQLModel] | Table) -> Table:
    return model if isinstance(model, Table) else model.__table__  # type: ignore[attr-defined]


def _insert(connection: Connection, table: Table) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


def upsert(connection: Connection, model: type[SQLModel] | Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, or overwrite every non-key column of the row with the same primary key."""
    if not rows:
        return
    table = _table(model)
    keys = [c.name for c in table.primary_key.columns]
    statement = _insert(connection, table)
    updated = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    if updated:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=updated)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    connection.execute(statement, [dict(r) for r in rows])


def insert_missing(connection: Connection, model: type[SQLModel] | Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows whose primary key is not there yet; leave existing ones as they are."""
    if not rows:
        return
    table = _table(model)
    keys = [c.name for c in table.primary_key.columns]
    connection.execute(_insert(connection, table).on_conflict_do_nothing(index_elements=keys), [dict(r) for r in rows])


def increment(
    connection: Connection, model: type[SQLModel] | Table, key: Mapping[str, Any], amounts: Mapping[str, int]
) -> None:
    """Add `amounts` to the row with primary key `key`, creating it at those amounts."""
    table = _table(model)
    statement = _insert(connection, table).values({**key, **amounts})
    statement = statement.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + amount for name, amount in amounts.items()}
    )
    connection.execute(statement)
