"""ordered projection: write positions, clock instances, tallies, indexes in list order

Rebuilds the read-model tables in their new shape and carries every row over:
- request: write position (history length, attempt), `tallied`, `advisories`, `closed_received_at`; `closed_at`
  becomes the closing event's effective time; composite indexes in list order.
- request_clock, clock_outcome, clock_threshold, outcome_correction, clock_recompute: keyed by clock
  instance (1 for every existing row); request_clock gains phase and opened_at, and keeps the engine's
  ClockView as a document (`view`) instead of a column per field; clock_outcome loses its surrogate
  id (its key is the clock instance).
- outcome_tally, working_days_tally, open_clock_tally, open_request_tally: counted from the rows
  carried over.
- calendar_overlay: a generation per load, in the order the years were loaded.

The rows are read into memory and written back, which is fine for the embedded default and small
installations; a large production database would run this in a maintenance window.

Revision ID: 0002
Revises: 0001
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STR = sqlmodel.sql.sqltypes.AutoString
INSTANT = store.types.AwareDateTime(timezone=True)
REBUILT = (
    "request_event",
    "request_clock",
    "clock_outcome",
    "clock_threshold",
    "outcome_correction",
    "clock_recompute",
)


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite keeps instants as naive UTC
    return value


def _read(bind: sa.Connection, name: str) -> list[dict[str, Any]]:
    table = sa.Table(name, sa.MetaData(), autoload_with=bind)
    return [{k: _aware(v) for k, v in row._mapping.items()} for row in bind.execute(sa.select(table))]


def _create_tables() -> None:
    op.create_table(
        "request",
        sa.Column("id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("catalog_version", sa.Integer(), nullable=False),
        sa.Column("catalog_digest", STR(), nullable=False),
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("external_ref", STR(), nullable=True),
        sa.Column("status", STR(), nullable=False),
        sa.Column("opened_at", INSTANT, nullable=False),
        sa.Column("closed_at", INSTANT, nullable=True),
        sa.Column("closed_received_at", INSTANT, nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("written_history_length", sa.Integer(), nullable=False),
        sa.Column("written_attempt_ns", sa.BigInteger(), nullable=False),
        sa.Column("calendar_fingerprint", STR(), nullable=False),
        sa.Column("calendar_sources", sa.JSON(), nullable=True),
        sa.Column("pinned_terms", sa.JSON(), nullable=True),
        sa.Column("advisories", sa.JSON(), nullable=True),
        sa.Column("tallied", sa.JSON(), nullable=True),
        sa.Column("sealed_personal_data", STR(), nullable=True),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_opened", "request", ["opened_at", "id"])
    op.create_index("ix_request_vendor_opened", "request", ["vendor_id", "opened_at", "id"])
    op.create_index("ix_request_insurer_opened", "request", ["insurer_id", "opened_at", "id"])
    op.create_index("ix_request_service_opened", "request", ["service_id", "opened_at", "id"])
    op.create_index("ix_request_status_opened", "request", ["status", "opened_at", "id"])
    op.create_table(
        "request_event",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", STR(), nullable=False),
        sa.Column("occurred_at", INSTANT, nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("sender", STR(), nullable=False),
        sa.Column("idempotency_key", STR(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("request_id", "seq"),
    )
    op.create_table(
        "request_clock",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("opened_at", INSTANT, nullable=False),
        sa.Column("state", STR(), nullable=False),
        sa.Column("phase", STR(), nullable=False),
        sa.Column("outcome", STR(), nullable=True),
        sa.Column("started_at", INSTANT, nullable=True),
        sa.Column("due_at", INSTANT, nullable=True),
        sa.Column("stopped_at", INSTANT, nullable=True),
        sa.Column("working_days_used", sa.Float(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("at_risk_from", INSTANT, nullable=True),
        sa.Column("view", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("request_id", "clock_id", "instance"),
    )
    op.create_index("ix_clock_phase_opened", "request_clock", ["phase", "opened_at", "request_id"])
    op.create_index("ix_clock_vendor_phase_opened", "request_clock", ["vendor_id", "phase", "opened_at", "request_id"])
    op.create_index(
        "ix_clock_insurer_phase_opened", "request_clock", ["insurer_id", "phase", "opened_at", "request_id"]
    )
    op.create_index(
        "ix_clock_service_phase_opened", "request_clock", ["service_id", "phase", "opened_at", "request_id"]
    )
    counting, running = "request_clock.phase IN ('running', 'at_risk')", "request_clock.phase = 'running'"
    op.create_index(
        "ix_clock_counting_due",
        "request_clock",
        ["due_at"],
        sqlite_where=sa.text(counting),
        postgresql_where=sa.text(counting),
    )
    op.create_index(
        "ix_clock_running_at_risk",
        "request_clock",
        ["at_risk_from"],
        sqlite_where=sa.text(running),
        postgresql_where=sa.text(running),
    )
    op.create_table(
        "clock_outcome",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("outcome", STR(), nullable=False),
        sa.Column("outcome_at", INSTANT, nullable=False),
        sa.Column("due_at", INSTANT, nullable=True),
        sa.Column("started_at", INSTANT, nullable=True),
        sa.Column("working_days_used", sa.Float(), nullable=False),
        sa.Column("late_by_seconds", sa.Integer(), nullable=True),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "clock_id", "instance"),
    )
    op.create_index("ix_outcome_at", "clock_outcome", ["outcome_at"])
    op.create_index("ix_outcome_vendor_at", "clock_outcome", ["vendor_id", "outcome_at"])
    op.create_index("ix_outcome_insurer_at", "clock_outcome", ["insurer_id", "outcome_at"])
    op.create_table(
        "clock_threshold",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("fired_at", INSTANT, nullable=False),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("request_id", "clock_id", "instance", "cycle", "fraction"),
    )
    op.create_table(
        "outcome_correction",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("previous", STR(), nullable=False),
        sa.Column("current", STR(), nullable=True),
        sa.Column("reason", STR(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "clock_id", "instance", "at"),
    )
    op.create_table(
        "clock_recompute",
        sa.Column("request_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("old_due_at", INSTANT, nullable=True),
        sa.Column("new_due_at", INSTANT, nullable=True),
        sa.Column("old_provisional", sa.Boolean(), nullable=False),
        sa.Column("new_provisional", sa.Boolean(), nullable=False),
        sa.Column("reason", STR(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "clock_id", "instance", "at"),
    )
    op.create_table(
        "outcome_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("outcome", STR(), nullable=False),
        sa.Column("working_days_bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("working_days_e4", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "vendor_id", "service_id", "clock_id", "outcome", "working_days_bucket"),
    )
    op.create_table(
        "working_days_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("working_days_tenths", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "vendor_id", "service_id", "clock_id", "working_days_tenths"),
    )
    op.create_table(
        "open_clock_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("clock_id", STR(), nullable=False),
        sa.Column("phase", STR(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "vendor_id", "service_id", "clock_id", "phase", "provisional"),
    )
    op.create_table(
        "open_request_tally",
        sa.Column("insurer_id", STR(), nullable=False),
        sa.Column("vendor_id", STR(), nullable=False),
        sa.Column("service_id", STR(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("insurer_id", "vendor_id", "service_id"),
    )


def _phase(clock: dict[str, Any]) -> str:
    thresholds = clock.get("thresholds") or []
    if clock["state"] == "running" and thresholds and thresholds[-1].get("fired"):
        return "at_risk"
    return str(clock["state"])


def _iso(value: Any) -> Any:
    return _aware(value).isoformat() if isinstance(value, datetime) else value


def _view(clock: dict[str, Any]) -> dict[str, Any]:
    """The engine's ClockView of a first-schema row, as the projection now stores it."""
    names = (
        "clock_id", "state", "outcome", "started_at", "due_at", "stopped_at", "breached_at", "late_by_seconds",
        "budget_seconds", "elapsed_seconds", "working_days_used", "provisional", "cycle",
    )  # fmt: skip
    view = {name: _iso(clock[name]) for name in names}
    return view | {
        "remaining_seconds": clock["budget_seconds"] - clock["elapsed_seconds"],
        "thresholds": clock.get("thresholds") or [],
        "timeline": clock.get("timeline") or [],
        "next_wake_at": None,
        "instance": 1,
        "paused_at": None,
    }


def _e4(days: float) -> int:
    return round(days * 10_000)


BUCKETS = (0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 60)  # store.tally.WORKING_DAY_BUCKETS when this was written


def _bucket(e4: int) -> int:
    return next((i for i, bound in enumerate(BUCKETS) if e4 <= round(bound * 10_000)), len(BUCKETS))


def upgrade() -> None:
    bind = op.get_bind()
    old = {name: _read(bind, name) for name in ("request", *REBUILT)}
    for name in REBUILT:
        op.drop_table(name)
    op.drop_table("request")
    _create_tables()

    closing: dict[str, dict[str, Any]] = {}
    for event in sorted(old["request_event"], key=lambda e: e["seq"]):
        if event["type"] in ("service_completed", "customer_cancelled"):
            closing.setdefault(event["request_id"], event)
    requests = {r["id"]: r for r in old["request"]}
    clocks_of: dict[str, list[dict[str, Any]]] = {}
    for clock in old["request_clock"]:
        clocks_of.setdefault(clock["request_id"], []).append(clock)

    outcome_tally: Counter[tuple[Any, ...]] = Counter()
    outcome_days: Counter[tuple[Any, ...]] = Counter()
    open_clocks: Counter[tuple[Any, ...]] = Counter()
    working_days: Counter[tuple[Any, ...]] = Counter()
    open_requests: Counter[tuple[Any, ...]] = Counter()
    request_rows, clock_rows = [], []
    for rid, request in requests.items():
        labels = (request["insurer_id"], request["vendor_id"], request["service_id"])
        tallied: Counter[tuple[Any, ...]] = Counter()
        if request["status"] == "open":
            tallied[("request", *labels)] += 1
            open_requests[labels] += 1
        for clock in clocks_of.get(rid, []):
            phase = _phase(clock)
            clock_rows.append(
                {
                    **clock,
                    "instance": 1,
                    "opened_at": request["opened_at"],
                    "phase": phase,
                    "view": _view(clock),
                }
            )
            if clock["outcome"] is not None:
                e4 = _e4(clock["working_days_used"])
                key = (*labels, clock["clock_id"], clock["outcome"], _bucket(e4))
                outcome_tally[key] += 1
                outcome_days[key] += e4
                tallied[("outcome", *key)] += 1
                tallied[("outcome", *key, "e4")] += e4
                if clock["outcome"] in ("met", "breached"):
                    days_key = (*labels, clock["clock_id"], -(-e4 // 1000))
                    working_days[days_key] += 1
                    tallied[("days", *days_key)] += 1
            state = clock["state"]
            if request["status"] == "open" and (
                state in ("running", "paused") or (state == "breached" and clock["stopped_at"] is None)
            ):
                open_key = (*labels, clock["clock_id"], phase, bool(clock["provisional"]))
                open_clocks[open_key] += 1
                tallied[("open", *open_key)] += 1
        event = closing.get(rid)
        request_rows.append(
            {
                **request,
                "closed_at": event["occurred_at"] if event else None,
                "closed_received_at": event["received_at"] if event else None,
                "written_history_length": 0,  # unknown: the next write of an open request rewrites it whole
                "written_attempt_ns": 0,
                "tallied": [[*k, v] for k, v in sorted(tallied.items(), key=lambda kv: repr(kv[0])) if v],
            }
        )

    metadata = sa.MetaData()
    tables = {name: sa.Table(name, metadata, autoload_with=bind) for name in ("request", *REBUILT)}
    tally_tables = {
        name: sa.Table(name, metadata, autoload_with=bind)
        for name in ("outcome_tally", "working_days_tally", "open_clock_tally", "open_request_tally")
    }

    def insert(name: str, rows: list[dict[str, Any]], table: sa.Table | None = None) -> None:
        target = table if table is not None else tables[name]
        names = {c.name for c in target.columns}
        if rows:
            bind.execute(target.insert(), [{k: v for k, v in r.items() if k in names} for r in rows])

    # Written through the model's instant type: stored the way the application stores them.
    instant_columns = {
        name: [c.name for c in table.columns if isinstance(c.type, sa.DateTime)] for name, table in tables.items()
    }

    def typed(name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            row = dict(row)
            for column in instant_columns[name]:
                if row.get(column) is not None:
                    row[column] = INSTANT.process_bind_param(row[column], bind.dialect)
            out.append(row)
        return out

    insert("request", typed("request", request_rows))
    insert("request_event", typed("request_event", old["request_event"]))
    insert("request_clock", typed("request_clock", clock_rows))
    insert("clock_outcome", typed("clock_outcome", [{**o, "instance": 1} for o in old["clock_outcome"]]))
    for name in ("clock_threshold", "outcome_correction", "clock_recompute"):
        insert(name, typed(name, [{**r, "instance": 1} for r in old[name]]))
    names = ("insurer_id", "vendor_id", "service_id", "clock_id", "outcome", "working_days_bucket")
    insert(
        "outcome_tally",
        [
            {**dict(zip(names, k, strict=True)), "count": n, "working_days_e4": outcome_days[k]}
            for k, n in outcome_tally.items()
        ],
        tally_tables["outcome_tally"],
    )
    names = ("insurer_id", "vendor_id", "service_id", "clock_id", "working_days_tenths")
    insert(
        "working_days_tally",
        [{**dict(zip(names, k, strict=True)), "count": n} for k, n in working_days.items()],
        tally_tables["working_days_tally"],
    )
    names = ("insurer_id", "vendor_id", "service_id", "clock_id", "phase", "provisional")
    insert(
        "open_clock_tally",
        [{**dict(zip(names, k, strict=True)), "count": n} for k, n in open_clocks.items()],
        tally_tables["open_clock_tally"],
    )
    names = ("insurer_id", "vendor_id", "service_id")
    insert(
        "open_request_tally",
        [{**dict(zip(names, k, strict=True)), "count": n} for k, n in open_requests.items()],
        tally_tables["open_request_tally"],
    )

    with op.batch_alter_table("calendar_overlay") as batch_op:
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    overlays = sa.Table("calendar_overlay", sa.MetaData(), autoload_with=bind)
    loaded = sorted(bind.execute(sa.select(overlays.c.year, overlays.c.loaded_at)), key=lambda r: (str(r[1]), r[0]))
    for generation, (year, _) in enumerate(loaded, start=1):
        bind.execute(overlays.update().where(overlays.c.year == year).values(generation=generation))
    with op.batch_alter_table("calendar_overlay") as batch_op:
        batch_op.alter_column("generation", server_default=None)


def downgrade() -> None:
    raise NotImplementedError("0002 rebuilds the read model; restore a backup taken before the upgrade")
