"""month tally: clocks by the Asia/Shanghai calendar month of their due instant, for a month's report

New tables month_tally, month_days_tally and month_percentile (store/models.py), counted from the clock
rows: each request's own contribution (`request.tallied`) gains its "month" and "month_days" keys, the
tallies hold their sums, and month_percentile the p50/p90 of each series' bins, so they are exactly
what the rows add up to (harness/readmodel_checks.py) and later writes move them by difference. The
rules are store.tally's (month_keys, percentiles_of_bins) when this was written, copied here so that
later changes to them cannot change what this migration did.

Like 0005, the rows are read into memory; a large production database runs this in a maintenance window.

Revision ID: 0008
Revises: 0007
"""

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction
from math import floor
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
SERIES = ("month", "insurer_id", "vendor_id", "service_id", "clock_id", "party")
COLUMNS = {"month": (*SERIES, "standing", "past_due_at_end"), "month_days": (*SERIES, "working_days_tenths")}
MONTH_KINDS = tuple(COLUMNS)


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
    series = (month, clock.insurer_id, clock.vendor_id, clock.service_id, clock.clock_id, clock.party)
    before_end = clock.due_at < end
    keys: list[tuple[Any, ...]] = []
    if clock.outcome is not None:
        undelivered = clock.stopped_at is None or clock.stopped_at > end
        keys.append(("month", *series, clock.outcome, clock.outcome == "breached" and undelivered and before_end))
        if clock.outcome in GRADED:
            keys.append(("month_days", *series, -(-round(clock.working_days_used * 10_000) // 1000)))
    if clock.phase in COUNTING_PHASES:
        keys.append(("month", *series, "counting", before_end))
    return keys


def _percentile(bins: list[tuple[int, int]], q: Fraction) -> float | None:
    """sla.reports.weighted_percentile of the bins' values (tenths / 10), as interpolated there."""
    ordered = sorted((tenths / 10, n) for tenths, n in bins if n > 0)
    total = sum(n for _, n in ordered)
    if total == 0:
        return None

    def at_rank(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        return ordered[-1][0]

    position = q * (total - 1)
    fraction = position - floor(position)
    low = at_rank(floor(position))
    high = at_rank(floor(position) + 1) if fraction else low
    return round(low + (high - low) * float(fraction), 2)


def _percentile_rows(total: Counter[tuple[Any, ...]]) -> list[dict[str, Any]]:
    bins: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for key, amount in total.items():
        if key[0] == "month_days" and amount:
            bins.setdefault(key[1:-1], []).append((key[-1], amount))
    return [
        dict(zip(SERIES, series, strict=True))
        | {
            "graded": sum(n for _, n in found),
            "working_days_p50": _percentile(found, Fraction(1, 2)),
            "working_days_p90": _percentile(found, Fraction(9, 10)),
        }
        for series, found in bins.items()
    ]


def _create_tables() -> None:
    op.create_table(
        "month_tally",
        *(sa.Column(name, STR(), nullable=False) for name in (*SERIES, "standing")),
        sa.Column("past_due_at_end", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*COLUMNS["month"]),
    )
    op.create_table(
        "month_days_tally",
        *(sa.Column(name, STR(), nullable=False) for name in SERIES),
        sa.Column("working_days_tenths", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*COLUMNS["month_days"]),
    )
    op.create_table(
        "month_percentile",
        *(sa.Column(name, STR(), nullable=False) for name in SERIES),
        sa.Column("graded", sa.Integer(), nullable=False),
        sa.Column("working_days_p50", sa.Float(), nullable=True),
        sa.Column("working_days_p90", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(*SERIES),
    )


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
    _create_tables()
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
    for kind in MONTH_KINDS:
        rows = [
            dict(zip(COLUMNS[kind], key[1:], strict=True)) | {"count": amount}
            for key, amount in total.items()
            if key[0] == kind and amount
        ]
        if rows:
            bind.execute(sa.table(f"{kind}_tally", *(sa.column(c) for c in (*COLUMNS[kind], "count"))).insert(), rows)
    percentiles = _percentile_rows(total)
    if percentiles:
        bind.execute(sa.table("month_percentile", *(sa.column(c) for c in percentiles[0])).insert(), percentiles)


def _without_month_keys(stored: Any) -> list[Any]:
    return [
        item for item in (json.loads(stored) if isinstance(stored, str) else stored) or [] if item[0] not in MONTH_KINDS
    ]


def downgrade() -> None:
    """The table goes, and each request's contribution loses its month keys (0007's code knows none)."""
    bind = op.get_bind()
    request = sa.Table("request", sa.MetaData(), sa.Column("id", STR()), sa.Column("tallied", sa.JSON()))
    for rid, stored in bind.execute(sa.select(request.c.id, request.c.tallied)).all():
        if stored is not None:
            bind.execute(request.update().where(request.c.id == rid).values(tallied=_without_month_keys(stored)))
    for table in ("month_percentile", "month_days_tally", "month_tally"):
        op.drop_table(table)
