"""month tally: clocks by the Asia/Shanghai calendar month of their due instant, for a month's report

New table month_tally (store.models.MonthTallyRow), counted from the clock rows: each request's own
contribution (`request.tallied`) gains its "month" keys and the table holds their sum, so the tally is
exactly what the rows add up to (harness/readmodel_checks.py) and later writes move it by difference.
The rules are store.tally.month_keys' when this was written, copied here so that later changes to
them cannot change what this migration did.

Like 0005, the rows are read into memory; a large production database runs this in a maintenance window.

Revision ID: 0008
Revises: 0007
"""

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)
SHANGHAI = ZoneInfo("Asia/Shanghai")
GRADED = ("met", "breached")
COUNTING_PHASES = ("running", "at_risk")
COLUMNS = (
    *("month", "insurer_id", "vendor_id", "service_id", "clock_id", "party"),
    *("standing", "working_days_tenths", "past_due_at_end"),
)


def _month_of_due(due: datetime) -> tuple[str, datetime]:
    """The due month (00:00 on the 1st is 24:00 of the month before) and its end."""
    local = due.astimezone(SHANGHAI)
    year, month = local.year, local.month
    if local.day == 1 and (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)
    return f"{year:04d}-{month:02d}", end


def _month_keys(clock: Any) -> list[tuple[Any, ...]]:
    if clock.due_at is None:
        return []
    month, end = _month_of_due(clock.due_at)
    series = ("month", month, clock.insurer_id, clock.vendor_id, clock.service_id, clock.clock_id, clock.party)
    before_end = clock.due_at < end
    keys = []
    if clock.outcome is not None:
        tenths = -(-round(clock.working_days_used * 10_000) // 1000) if clock.outcome in GRADED else 0
        undelivered = clock.stopped_at is None or clock.stopped_at > end
        keys.append((*series, clock.outcome, tenths, clock.outcome == "breached" and undelivered and before_end))
    if clock.phase in COUNTING_PHASES:
        keys.append((*series, "counting", 0, before_end))
    return keys


def _clocks() -> sa.Table:
    return sa.Table(
        "request_clock",
        sa.MetaData(),
        *(sa.Column(name, STR()) for name in ("request_id", "clock_id", "insurer_id", "vendor_id", "service_id")),
        *(sa.Column(name, STR()) for name in ("party", "phase", "outcome")),
        sa.Column("due_at", INSTANT),
        sa.Column("stopped_at", INSTANT),
        sa.Column("working_days_used", sa.Float()),
    )


def upgrade() -> None:
    op.create_table(
        "month_tally",
        *(sa.Column(name, STR(), nullable=False) for name in COLUMNS[:7]),
        sa.Column("working_days_tenths", sa.Integer(), nullable=False),
        sa.Column("past_due_at_end", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*COLUMNS),
    )
    bind = op.get_bind()
    mine: dict[str, Counter[tuple[Any, ...]]] = {}
    for clock in bind.execute(sa.select(_clocks())):
        mine.setdefault(clock.request_id, Counter()).update(_month_keys(clock))
    request = sa.Table("request", sa.MetaData(), sa.Column("id", STR()), sa.Column("tallied", sa.JSON()))
    total: Counter[tuple[Any, ...]] = Counter()
    for rid, stored in bind.execute(sa.select(request.c.id, request.c.tallied)).all():
        added = mine.get(rid)
        if not added:
            continue
        items = _without_month_keys(stored) + [[*key, amount] for key, amount in added.items()]
        bind.execute(request.update().where(request.c.id == rid).values(tallied=sorted(items, key=repr)))
        total.update(added)
    rows = [dict(zip(COLUMNS, key[1:], strict=True)) | {"count": amount} for key, amount in total.items() if amount]
    if rows:
        bind.execute(sa.table("month_tally", *(sa.column(name) for name in (*COLUMNS, "count"))).insert(), rows)


def _without_month_keys(stored: Any) -> list[Any]:
    return [item for item in (json.loads(stored) if isinstance(stored, str) else stored) or [] if item[0] != "month"]


def downgrade() -> None:
    """The table goes, and each request's contribution loses its month keys (0007's code knows none)."""
    bind = op.get_bind()
    request = sa.Table("request", sa.MetaData(), sa.Column("id", STR()), sa.Column("tallied", sa.JSON()))
    for rid, stored in bind.execute(sa.select(request.c.id, request.c.tallied)).all():
        if stored is not None:
            bind.execute(request.update().where(request.c.id == rid).values(tallied=_without_month_keys(stored)))
    op.drop_table("month_tally")
