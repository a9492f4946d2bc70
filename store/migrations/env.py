"""Alembic environment: the models' metadata, and the connection handed over by store.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool
from sqlmodel import SQLModel

from store import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


class UnknownSchemaRevision(RuntimeError):
    """The database records a revision this chain does not have (a database made before the squash)."""


def _refuse_unknown_revisions() -> None:
    """Stop before alembic takes a database of the old chain for new or fails with a bare revision id."""
    recorded = set(context.get_context().get_current_heads())
    known = {script.revision for script in context.script.walk_revisions()}
    if unknown := sorted(recorded - known):
        raise UnknownSchemaRevision(
            f"the database records schema revision {', '.join(unknown)}, which store/migrations does not have:"
            " it was made before the migrations were squashed into 0001_initial_schema"
            " (store/migrations/versions/0001_initial_schema.py says why). Recreate it (delete the SQLite file, or"
            " drop and create the PostgreSQL database), run `slatrack db init`, then `slatrack db rebuild`."
        )


def _run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    _refuse_unknown_revisions()
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        _run_on(conn)


run_migrations()
