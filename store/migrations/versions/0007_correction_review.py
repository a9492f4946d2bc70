"""events held for the insurer's review (sla/engine/review.py) and the decisions on them

New table only: correction_review, one row per held event of a request, kept whatever the decision.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "correction_review",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("correction_id", STR(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event_type", STR(), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("received_at", INSTANT, nullable=True),
        sa.Column("sender", STR(), nullable=False),
        sa.Column("event_data", sa.JSON(), nullable=True),
        sa.Column("rule", STR(), nullable=False),
        sa.Column("reason", STR(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("held_at", INSTANT, nullable=False),
        sa.Column("status", STR(), nullable=False),
        sa.Column("decided_by", STR(), nullable=True),
        sa.Column("decided_at", INSTANT, nullable=True),
        sa.Column("note", STR(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("request_id", "correction_id"),
    )


def downgrade() -> None:
    op.drop_table("correction_review")
