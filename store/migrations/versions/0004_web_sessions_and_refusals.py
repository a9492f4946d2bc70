"""web sessions (the pages and the codec server) and refused events (the audit page)

New tables only; nothing existing changes:
- web_session: a signed-in browser; the SHA-256 of its random session id, its key, CSRF token, expiry.
- refused_event: an event the workflow refused, with the rule and its source, for the audit page.
- ix_clock_owed_due, ix_clock_vendor_owed_due, ix_clock_insurer_owed_due: the clocks still owed, by due
  instant (whole, per vendor, per insurer), for the pages' list (api/reads.py owed_page).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)
OWED = "request_clock.phase IN ('running', 'at_risk', 'breached') AND request_clock.stopped_at IS NULL"
OWED_INDEXES = {
    "ix_clock_owed_due": ["due_at", "request_id"],
    "ix_clock_vendor_owed_due": ["vendor_id", "due_at", "request_id"],
    "ix_clock_insurer_owed_due": ["insurer_id", "due_at", "request_id"],
}


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id_sha256", STR(), nullable=False),
        sa.Column("key_id", STR(), nullable=False),
        sa.Column("csrf_token", STR(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("expires_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_key.key_id"]),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    op.create_index("ix_web_session_key", "web_session", ["key_id"], unique=False)
    op.create_table(
        "refused_event",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("id", STR(), nullable=False),
        sa.Column("type", STR(), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("sender", STR(), nullable=False),
        sa.Column("idempotency_key", STR(), nullable=True),
        sa.Column("rule", STR(), nullable=False),
        sa.Column("source", STR(), nullable=True),
        sa.Column("detail", STR(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "id"),
    )
    for name, columns in OWED_INDEXES.items():
        op.create_index(
            name, "request_clock", columns, unique=False, sqlite_where=sa.text(OWED), postgresql_where=sa.text(OWED)
        )


def downgrade() -> None:
    for name in OWED_INDEXES:
        op.drop_index(name, table_name="request_clock")
    op.drop_table("refused_event")
    op.drop_index("ix_web_session_key", table_name="web_session")
    op.drop_table("web_session")
