"""a request's runs: it continues as new before Temporal's per-run limits

- request.written_run: the write position starts with the run (each run's history length starts
  again), so a write of a later run is newer than any write of an earlier one.
- request_history: one row per run, keyed by (request, run), `closing` marking the run that closed
  the request; the existing rows are the first and closing run of their request.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)
COPIED = "workflow_id, run_id, event_count, sha256, history_json, archived_at"


def upgrade() -> None:
    # Added in place (rows written so far are of the first run): recreating `request` on SQLite would
    # trip the foreign keys of every child table.
    op.add_column("request", sa.Column("written_run", sa.Integer(), nullable=False, server_default="1"))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("request", "written_run", server_default=None)
    # A primary key cannot be widened in place on SQLite: a new table takes the rows, then the name.
    op.create_table(
        "request_history_runs",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("closing", sa.Boolean(), nullable=False),
        sa.Column("workflow_id", STR(), nullable=False),
        sa.Column("run_id", STR(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("sha256", STR(), nullable=False),
        sa.Column("history_json", STR(), nullable=False),
        sa.Column("archived_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("request_id", "run"),
    )
    op.execute(
        sa.text(
            f"INSERT INTO request_history_runs (request_id, run, closing, {COPIED})"
            f" SELECT request_id, 1, :closing, {COPIED} FROM request_history"
        ).bindparams(closing=True)
    )
    op.drop_table("request_history")
    op.rename_table("request_history_runs", "request_history")


def downgrade() -> None:
    op.create_table(
        "request_history_first",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("workflow_id", STR(), nullable=False),
        sa.Column("run_id", STR(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("sha256", STR(), nullable=False),
        sa.Column("history_json", STR(), nullable=False),
        sa.Column("archived_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.execute(
        sa.text(
            f"INSERT INTO request_history_first (request_id, {COPIED})"
            f" SELECT request_id, {COPIED} FROM request_history WHERE closing = :closing"
        ).bindparams(closing=True)
    )
    op.drop_table("request_history")
    op.rename_table("request_history_first", "request_history")
    op.drop_column("request", "written_run")
