"""Read-model queries at 1,000 / 10,000 / 100,000 requests: a page of each list filter, one request,
the compliance report and a /metrics scrape, through the real app (FastAPI over ASGI, no network).

The scenario `python -m bench.readmodel` measures (bench/readmodel.py) and
tests/api/test_query_plans.py, test_metrics_reading.py and test_list_filters.py run in `make test`.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import SQLModel

from adapters.catalog_files import default_catalog
from sla.catalog.catalog import PinnedService
from sla.catalog.model import ClockSpec, ServiceEntry
from store.models import (
    ClockOutcomeRow,
    ClockRow,
    EventRow,
    MonthDaysTallyRow,
    MonthPercentileRow,
    MonthTallyRow,
    OpenClockTallyRow,
    OpenRequestTallyRow,
    OutcomeTallyRow,
    RequestRow,
    VendorRow,
    WorkingDaysTallyRow,
    table_of,
)
from store.tally import (
    COLUMNS,
    DAYS,
    MONTH,
    MONTH_DAYS,
    MONTH_SERIES,
    OPEN_CLOCK,
    OUTCOME,
    REQUEST,
    ClockFacts,
    contribution,
    encode,
    percentiles_of_bins,
)

VENDORS = ("vendor-reliable", "vendor-late", "vendor-forgetful")
METRICS_TOKEN = "bench-metrics-token"
DAY = timedelta(days=1)


LAGGING = 40  # clocks past their instant but not recorded yet: a herd's size, not the table's


def _clock_state(rng: random.Random, open_request: bool, lagging: int) -> str:
    if not open_request:
        return rng.choices(["met", "breached", "exempt", "cancelled"], [80, 14, 3, 3])[0]
    if lagging < LAGGING:
        return rng.choice(["lag_breach", "lag_risk"])
    return rng.choices(["running", "at_risk", "paused", "pending", "breached"], [56, 10, 8, 14, 12])[0]


@dataclass(frozen=True)
class _SeededClock:
    """One clock's state and instants as the projection would have stored them."""

    state: str
    phase: str
    outcome: str | None
    due: datetime
    due_at: datetime | None
    at_risk_from: datetime
    stopped: datetime | None
    used: float
    provisional: bool
    lagging: bool  # past its instant, the new phase not recorded yet (one of the LAGGING clocks)

    def facts(self, spec: ClockSpec) -> ClockFacts:
        """What the tallies count of this clock."""
        return ClockFacts(
            spec.id,
            spec.party.value,
            self.state,
            self.phase,
            self.outcome,
            self.used,
            self.provisional,
            self.stopped,
            self.due_at,
        )


def _seeded_clock(rng: random.Random, is_open: bool, lagging: int, opened_at: datetime, now: datetime) -> _SeededClock:
    state = _clock_state(rng, is_open, lagging)
    is_lagging = state.startswith("lag_")
    # A running clock's warning lies ahead (a passed one is recorded: at_risk), bar the lag set.
    due = now + timedelta(seconds=rng.randrange(3 * 86400, 20 * 86400))
    at_risk_from = due - timedelta(days=2)
    phase = state
    if state == "at_risk":
        state, at_risk_from = "running", now - timedelta(hours=rng.randrange(1, 40))
        due = at_risk_from + timedelta(days=2)
    elif state == "lag_breach":  # due has passed, the breach is not recorded yet
        state = phase = "running"
        due, at_risk_from = now - timedelta(seconds=rng.randrange(1, 60)), now - timedelta(days=2)
    elif state == "lag_risk":  # the last warning has passed, not recorded yet
        state = phase = "running"
        at_risk_from, due = now - timedelta(seconds=rng.randrange(1, 60)), now + timedelta(days=1)
    elif state in ("met", "breached", "exempt", "cancelled"):
        due = opened_at + timedelta(days=rng.randrange(1, 15))
    outcome = state if state in ("met", "breached", "exempt", "cancelled") else None
    used = round(rng.uniform(0.2, 14.0), 4)
    stopped = due - timedelta(hours=rng.randrange(1, 48)) if outcome in ("met", "exempt", "cancelled") else None
    if outcome == "breached" or (state == "breached" and rng.random() < 0.5):
        stopped = due + timedelta(hours=rng.randrange(1, 48))
    if state == "breached" and is_open:
        stopped = None
    provisional = rng.random() < 0.05
    due_at = None if state in ("pending", "paused") else due
    return _SeededClock(state, phase, outcome, due, due_at, at_risk_from, stopped, used, provisional, is_lagging)


def _clock_view(clock_id: str, clock: _SeededClock, opened_at: datetime, now: datetime) -> dict[str, Any]:
    """The engine's ClockView, as the projection stores it."""
    budget, elapsed = 10 * 86400, int(clock.used * 86400)
    return {
        "clock_id": clock_id,
        "state": clock.state,
        "outcome": clock.outcome,
        "started_at": opened_at.isoformat(),
        "due_at": clock.due_at.isoformat() if clock.due_at else None,
        "stopped_at": clock.stopped.isoformat() if clock.stopped else None,
        "breached_at": clock.due.isoformat() if clock.state == "breached" else None,
        "late_by_seconds": None,
        "budget_seconds": budget,
        "elapsed_seconds": elapsed,
        "remaining_seconds": budget - elapsed,
        "working_days_used": clock.used,
        "thresholds": [],
        "provisional": clock.provisional,
        "cycle": 1,
        "timeline": [],
        "next_wake_at": None,
        "instance": 1,
        "paused_at": (now - DAY).isoformat() if clock.state == "paused" else None,
    }


def _clock_row(request: dict[str, Any], spec: ClockSpec, clock: _SeededClock, now: datetime) -> dict[str, Any]:
    opened_at = request["opened_at"]
    return {
        "request_id": request["id"],
        "clock_id": spec.id,
        "instance": 1,
        "insurer_id": request["insurer_id"],
        "vendor_id": request["vendor_id"],
        "service_id": request["service_id"],
        "party": spec.party.value,
        "opened_at": opened_at,
        "state": clock.state,
        "phase": clock.phase,
        "outcome": clock.outcome,
        "started_at": opened_at,
        "due_at": clock.due_at,
        "stopped_at": clock.stopped,
        "working_days_used": clock.used,
        "provisional": clock.provisional,
        "at_risk_from": clock.at_risk_from if clock.state == "running" else None,
        "view": _clock_view(spec.id, clock, opened_at, now),
    }


OUTCOME_KEYS = ("request_id", "clock_id", "instance", "insurer_id", "vendor_id", "service_id", "party")


def _outcome_row(clock_row: dict[str, Any], clock: _SeededClock) -> dict[str, Any]:
    return {key: clock_row[key] for key in OUTCOME_KEYS} | {
        "outcome": clock.outcome,
        "outcome_at": clock.due if clock.outcome == "breached" else (clock.stopped or clock.due),
        "due_at": clock.due,
        "started_at": clock_row["opened_at"],
        "working_days_used": clock.used,
        "late_by_seconds": None,
        "recorded_at": clock.due,
        "corrected": False,
    }


def _request_row(
    rid: str, entry: ServiceEntry, pin: PinnedService, vendor: str, opened_at: datetime, status: str, now: datetime
) -> dict[str, Any]:
    closed = None if status == "open" else opened_at + 10 * DAY
    return {
        "id": rid,
        "service_id": entry.id,
        "catalog_version": entry.version,
        "catalog_digest": pin.digest,
        "insurer_id": entry.insurer,
        "vendor_id": vendor,
        "external_ref": None,
        "status": status,
        "opened_at": opened_at,
        "closed_at": closed,
        "closed_received_at": closed,
        "revision": 3,
        "written_history_length": 20,
        "written_attempt_ns": 1,
        "calendar_fingerprint": "seed",
        "calendar_sources": {},
        "pinned_terms": pin.document,
        "tallied": [],
        "sealed_personal_data": None,
        "updated_at": now,
    }


def _opening_event(rid: str, opened_at: datetime) -> dict[str, Any]:
    return {
        "request_id": rid,
        "seq": 1,
        "type": "request_opened",
        "occurred_at": opened_at,
        "received_at": opened_at,
        "sender": "system",
        "idempotency_key": None,
        "data": {},
    }


COUNTED_IN: dict[str, type[SQLModel]] = {
    DAYS: WorkingDaysTallyRow,
    OPEN_CLOCK: OpenClockTallyRow,
    REQUEST: OpenRequestTallyRow,
    MONTH: MonthTallyRow,
    MONTH_DAYS: MonthDaysTallyRow,
}


def _tally_rows(tallies: Counter[tuple[Any, ...]]) -> dict[type[SQLModel], list[dict[str, Any]]]:
    """The tally tables' rows, from the sum of every request's contribution."""
    rows: dict[type[SQLModel], list[dict[str, Any]]] = {
        OutcomeTallyRow: [],
        WorkingDaysTallyRow: [],
        OpenClockTallyRow: [],
        OpenRequestTallyRow: [],
        MonthTallyRow: [],
        MonthDaysTallyRow: [],
    }
    for key, amount in tallies.items():
        if key[0] == OUTCOME and key[-1] != "e4":
            rows[OutcomeTallyRow].append(
                dict(zip(COLUMNS[OUTCOME], key[1:], strict=True))
                | {"count": amount, "working_days_e4": tallies[(*key, "e4")]}
            )
        elif key[0] in COUNTED_IN:
            rows[COUNTED_IN[key[0]]].append(dict(zip(COLUMNS[key[0]], key[1:], strict=True)) | {"count": amount})
    rows[MonthPercentileRow] = month_percentile_rows(tallies)
    return rows


def month_percentile_rows(tallies: Counter[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The month percentiles the writes would have worked out from these month days tallies."""
    bins: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for key, amount in tallies.items():
        if key[0] == MONTH_DAYS and amount:
            bins.setdefault(key[1:-1], []).append((key[-1], amount))
    rows = []
    for series, counted in bins.items():
        p50, p90 = percentiles_of_bins(counted)
        graded = sum(count for _, count in counted)
        values = {"graded": graded, "working_days_p50": p50, "working_days_p90": p90}
        rows.append(dict(zip(MONTH_SERIES, series, strict=True)) | values)
    return rows


def _insert_and_analyze(engine: Engine, rows_by_table: list[tuple[type[SQLModel], list[dict[str, Any]]]]) -> None:
    """Inserts in batches of 5,000, the vendors first, then ANALYZE so the planner sees the sizes."""
    with engine.begin() as connection:
        existing = {r.id for r in connection.execute(table_of(VendorRow).select())}
        vendors = [{"id": v, "name": v} for v in VENDORS if v not in existing]
        every: list[tuple[type[SQLModel], list[dict[str, Any]]]] = [(VendorRow, vendors), *rows_by_table]
        for table, rows in every:
            for first in range(0, len(rows), 5000):
                if rows[first : first + 5000]:
                    connection.execute(table_of(table).insert(), rows[first : first + 5000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def seed(engine: Engine, count: int, now: datetime, *, seed_value: int = 7) -> None:
    """`count` requests as the projection would have written them, tallies included."""
    rng = random.Random(seed_value)
    catalog = default_catalog()
    entries = [e for e in catalog if e.clocks]
    pinned = {e.id: catalog.pin(e.id) for e in entries}
    requests: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    tallies: Counter[tuple[Any, ...]] = Counter()
    lagging = 0
    for n in range(count):
        entry = rng.choice(entries)
        vendor = rng.choice(VENDORS)
        opened_at = now - timedelta(seconds=rng.randrange(365 * 86400))
        is_open = rng.random() < 0.3
        status = "open" if is_open else rng.choices(["completed", "cancelled"], [9, 1])[0]
        rid = f"seed{n:07d}{seed_value}"
        request = _request_row(rid, entry, pinned[entry.id], vendor, opened_at, status, now)
        facts = []
        for spec in entry.clocks[: rng.randint(1, min(3, len(entry.clocks)))]:
            clock = _seeded_clock(rng, is_open, lagging, opened_at, now)
            lagging += clock.lagging
            clocks.append(_clock_row(request, spec, clock, now))
            facts.append(clock.facts(spec))
            if clock.outcome is not None:
                outcomes.append(_outcome_row(clocks[-1], clock))
        mine = contribution(status, entry.insurer, vendor, entry.id, facts)
        tallies.update(mine)
        requests.append(request | {"tallied": encode(mine)})
        events.append(_opening_event(rid, opened_at))
    loaded: list[tuple[type[SQLModel], list[dict[str, Any]]]] = [
        (RequestRow, requests),
        (EventRow, events),
        (ClockRow, clocks),
        (ClockOutcomeRow, outcomes),
    ]
    _insert_and_analyze(engine, [*loaded, *_tally_rows(tallies).items()])


# Every list filter the API offers, with a coordinator's and an auditor's scope, and the reads besides.
QUERIES: list[tuple[str, str, str, dict[str, str]]] = [
    ("list", "operations", "/v1/requests", {}),
    ("list vendor", "operations", "/v1/requests", {"vendor": "vendor-late"}),
    # A page of 20: at 1,000 requests a service has ~22 (47 services), so a page of 50 would compare 22
    # summaries with 50 at 100,000 (2.8x the work for the same walk of ix_request_service_opened).
    ("list service", "operations", "/v1/requests", {"service": "axa.green_channel.inpatient", "limit": "20"}),
    ("list insurer", "operations", "/v1/requests", {"insurer": "zhongan"}),
    ("list state=open", "operations", "/v1/requests", {"state": "open"}),
    ("list opened range", "operations", "/v1/requests", {"opened_from": "2026-06-01T00:00:00+08:00"}),
    *[
        (f"list clock_state={s}", "operations", "/v1/requests", {"clock_state": s})
        for s in ("pending", "running", "paused", "met", "breached", "exempt", "cancelled", "at_risk")
    ],
    ("list open & at_risk", "operations", "/v1/requests", {"state": "open", "clock_state": "at_risk"}),
    ("list vendor & breached", "operations", "/v1/requests", {"vendor": "vendor-late", "clock_state": "breached"}),
    ("coordinator list", "coordinator", "/v1/requests", {}),
    ("coordinator at_risk", "coordinator", "/v1/requests", {"clock_state": "at_risk"}),
    ("auditor list", "auditor", "/v1/requests", {}),
    ("one request", "operations", "/v1/requests/{id}", {}),
    ("compliance report", "operations", "/v1/reports/compliance", {}),
    (
        "compliance, one month",
        "operations",
        "/v1/reports/compliance",
        {"period_from": "2026-10-01T00:00:00+08:00", "period_to": "2026-11-01T00:00:00+08:00"},
    ),
    ("compliance, clocks due in a month", "operations", "/v1/reports/compliance", {"month": "2026-10"}),
    # The month "now" is in: its counting clocks past due are read at the instant (the lag set).
    ("compliance, clocks due this month", "operations", "/v1/reports/compliance", {"month": "2026-11"}),
    ("/metrics scrape", "metrics", "/metrics", {}),
]
