"""vendor webhooks with their delivery log, and the quota ledger per policy year

New tables only; nothing existing changes:
- webhook: a vendor's endpoint, the events it wants, its signing secret sealed with the payload keys.
- webhook_delivery, webhook_attempt: the delivery log (one row per message and webhook, one per attempt).
- quota_claim: one row per use of a service's quota, keyed by (blind index of the policy number,
  service, policy year start, use number); the request holding the use is unique.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("url", STR(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=True),
        sa.Column("sealed_secret", STR(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("created_by", STR(), nullable=False),
        sa.Column("deleted_at", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendor.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_vendor", "webhook", ["vendor_id", "created_at"])
    op.create_table(
        "webhook_delivery",
        sa.Column("webhook_id", STR(), nullable=False),
        sa.Column("message_id", STR(), nullable=False),
        sa.Column("event_type", STR(), nullable=False),
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=True),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("state", STR(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", STR(), nullable=True),
        sa.Column("last_attempt_at", INSTANT, nullable=True),
        sa.Column("delivered_at", INSTANT, nullable=True),
        sa.Column("failure_reason", STR(), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id", "message_id"),
    )
    op.create_index("ix_delivery_webhook_created", "webhook_delivery", ["webhook_id", "created_at", "message_id"])
    op.create_table(
        "webhook_attempt",
        sa.Column("webhook_id", STR(), nullable=False),
        sa.Column("message_id", STR(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", STR(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "message_id", "attempt"),
    )
    op.create_table(
        "quota_claim",
        sa.Column("blind_index", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("policy_year_start", sa.Date(), nullable=False),
        sa.Column("use_no", sa.Integer(), nullable=False),
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.Column("claimed_at", INSTANT, nullable=False),
        sa.Column("claimed_by", STR(), nullable=False),
        sa.Column("override_reason", STR(), nullable=True),
        sa.PrimaryKeyConstraint("blind_index", "service_id", "policy_year_start", "use_no"),
        sa.UniqueConstraint("request_id", name="uq_quota_claim_request"),
    )


def downgrade() -> None:
    op.drop_table("quota_claim")
    op.drop_table("webhook_attempt")
    op.drop_index("ix_delivery_webhook_created", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index("ix_webhook_vendor", table_name="webhook")
    op.drop_table("webhook")
