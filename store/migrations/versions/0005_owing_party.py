"""owing party: every clock row and every clock tally says who owes the clock

A clock owed by the insurer, a lab or another third party must never count in a vendor's compliance
(issue 21), so the party the pinned catalog entry names becomes part of the read model:
- request_clock, clock_outcome: a `party` column, from each request's pinned terms (`vendor` where the
  entry names none, as the catalog parser reads it; `vendor` for a request without pinned terms).
- outcome_tally, working_days_tally, open_clock_tally: `party` joins their key. Each request's own
  contribution (`request.tallied`) gains the party in its keys, and the tallies are recounted from
  those contributions, so they stay exactly what the rows add up to.
- clock_outcome: an index on due_at, for a month's report (clocks due in the month).

Like 0002, the rows are read into memory; a large production database runs this in a maintenance window.

Revision ID: 0005
Revises: 0004
"""

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
VENDOR = "vendor"  # sla.catalog.model.Party.VENDOR, the parser's default, when this was written
# The tally kinds whose keys name a clock: its id is at index 4 of a key, the party goes after it.
CLOCK_KINDS = ("outcome", "days", "open")
PARTY_AT = 5
TALLY_COLUMNS = {  # store.tally.COLUMNS when this was written
    "outcome": ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "outcome", "working_days_bucket"),
    "days": ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "working_days_tenths"),
    "open": ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "phase", "provisional"),
}


def _document(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _parties(pinned: Any) -> dict[str, str]:
    document = _document(pinned) or {}
    return {str(c["id"]): str(c.get("party", VENDOR)) for c in document.get("clocks") or []}


def _create_tallies() -> None:
    op.create_table(
        "outcome_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("party", STR(), nullable=False),
        sa.Column("outcome", STR(), nullable=False),
        sa.Column("working_days_bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("working_days_e4", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_COLUMNS["outcome"]),
    )
    op.create_table(
        "working_days_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("party", STR(), nullable=False),
        sa.Column("working_days_tenths", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_COLUMNS["days"]),
    )
    op.create_table(
        "open_clock_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("party", STR(), nullable=False),
        sa.Column("phase", STR(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*TALLY_COLUMNS["open"]),
    )


def upgrade() -> None:
    bind = op.get_bind()
    for name in ("request_clock", "clock_outcome"):
        with op.batch_alter_table(name) as batch_op:
            batch_op.add_column(sa.Column("party", STR(), nullable=False, server_default=VENDOR))
    for name in CLOCK_KINDS:
        op.drop_table({"outcome": "outcome_tally", "days": "working_days_tally", "open": "open_clock_tally"}[name])
    _create_tallies()

    metadata = sa.MetaData()
    request = sa.Table("request", metadata, autoload_with=bind)
    clock_tables = [sa.Table(name, metadata, autoload_with=bind) for name in ("request_clock", "clock_outcome")]
    tallies: Counter[tuple[Any, ...]] = Counter()
    for rid, pinned, stored in bind.execute(sa.select(request.c.id, request.c.pinned_terms, request.c.tallied)).all():
        parties = _parties(pinned)
        for clock_id, party in parties.items():
            if party != VENDOR:
                for table in clock_tables:
                    bind.execute(
                        table.update()
                        .where(table.c.request_id == rid, table.c.clock_id == clock_id)
                        .values(party=party)
                    )
        mine: Counter[tuple[Any, ...]] = Counter()
        for item in _document(stored) or []:
            key, amount = list(item[:-1]), int(item[-1])
            if key[0] in CLOCK_KINDS:
                key.insert(PARTY_AT, parties.get(key[4], VENDOR))
            mine[tuple(key)] += amount
        ordered = [[*k, v] for k, v in sorted(mine.items(), key=lambda kv: repr(kv[0])) if v]
        bind.execute(request.update().where(request.c.id == rid).values(tallied=ordered))
        tallies.update(mine)

    for name in ("request_clock", "clock_outcome"):
        with op.batch_alter_table(name) as batch_op:
            batch_op.alter_column("party", existing_type=STR(), server_default=None)

    tables = {
        kind: sa.Table(table, sa.MetaData(), autoload_with=bind)
        for kind, table in (("outcome", "outcome_tally"), ("days", "working_days_tally"), ("open", "open_clock_tally"))
    }
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CLOCK_KINDS}
    for key, amount in tallies.items():
        kind = key[0]
        if kind not in CLOCK_KINDS or key[-1] == "e4":
            continue
        row = dict(zip(TALLY_COLUMNS[kind], key[1:], strict=True))
        if kind == "outcome":
            rows[kind].append(row | {"count": amount, "working_days_e4": tallies.get((*key, "e4"), 0)})
        elif amount:
            rows[kind].append(row | {"count": amount})
    for kind, kind_rows in rows.items():
        if kind_rows:
            bind.execute(tables[kind].insert(), kind_rows)

    op.create_index("ix_outcome_due", "clock_outcome", ["due_at"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("0005 recounts the tallies by party; restore a backup taken before the upgrade")
