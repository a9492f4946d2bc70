"""INSERT ... ON CONFLICT for SQLite and PostgreSQL (SQLAlchemy Core, no ORM flush): the projection's
writes are upserts keyed by the tables' primary keys, so a retried write is a no-op.

Statements are built once per dialect, table and set of columns and reused with new parameters:
building an INSERT ... ON CONFLICT (its `excluded` columns) costs more than running it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel


def _table(model: type[SQLModel] | Table) -> Table:
    return model if isinstance(model, Table) else model.__table__  # type: ignore[attr-defined]


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


@cache
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    statement = _insert(dialect, table)
    updated = {name: statement.excluded[name] for name in columns if name not in keys}
    if updated:
        return statement.on_conflict_do_update(index_elements=keys, set_=updated)
    return statement.on_conflict_do_nothing(index_elements=keys)


@cache
def _insert_missing_statement(dialect: str, table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    return _insert(dialect, table).on_conflict_do_nothing(index_elements=keys)


@cache
def _increment_statement(dialect: str, table: Table, key: tuple[str, ...], amounts: tuple[str, ...]) -> Any:
    statement = _insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + statement.excluded[name] for name in amounts}
    )


def upsert(connection: Connection, model: type[SQLModel] | Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, or overwrite every non-key column of the row with the same primary key."""
    if not rows:
        return
    statement = _upsert_statement(connection.dialect.name, _table(model), tuple(rows[0]))
    connection.execute(statement, [dict(r) for r in rows])


def insert_missing(connection: Connection, model: type[SQLModel] | Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows whose primary key is not there yet; leave existing ones as they are."""
    if not rows:
        return
    connection.execute(_insert_missing_statement(connection.dialect.name, _table(model)), [dict(r) for r in rows])


def increment(
    connection: Connection, model: type[SQLModel] | Table, key: Mapping[str, Any], amounts: Mapping[str, int]
) -> None:
    """Add `amounts` to the row with primary key `key`, creating it at those amounts."""
    statement = _increment_statement(connection.dialect.name, _table(model), tuple(key), tuple(amounts))
    connection.execute(statement, {**key, **amounts})
