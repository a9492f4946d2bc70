"""Invariants of the read model, checked by the tests that write it (activities, concurrency, faults):
the tallies equal what the rows they count add up to, and each request row says exactly that."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine, select

from store.models import (
    ClockRow,
    MonthDaysTallyRow,
    MonthPercentileRow,
    MonthTallyRow,
    OpenClockTallyRow,
    OpenRequestTallyRow,
    OutcomeTallyRow,
    RequestRow,
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
    decode,
    percentiles_of_bins,
)


def nonzero(counts: Counter[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """Entries that are not 0 (negative ones kept: a negative tally is a bug to see, not to hide)."""
    return {k: v for k, v in counts.items() if v != 0}


def _snapshot(engine: Engine) -> Any:
    """One consistent snapshot for every read of a check (writers may still be at work)."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


def recounted(connection: Any) -> tuple[Counter[tuple[Any, ...]], list[str]]:
    """What the tallies must hold, from the request and clock rows; and the requests whose own
    `tallied` disagrees with their rows."""
    total: Counter[tuple[Any, ...]] = Counter()
    wrong: list[str] = []
    clocks: dict[str, list[ClockFacts]] = {}
    for c in connection.execute(select(table_of(ClockRow))):
        facts = ClockFacts(
            c.clock_id,
            c.party,
            c.state,
            c.phase,
            c.outcome,
            c.working_days_used,
            c.provisional,
            c.stopped_at,
            c.due_at,
        )
        clocks.setdefault(c.request_id, []).append(facts)
    for r in connection.execute(select(table_of(RequestRow))):
        mine = contribution(r.status, r.insurer_id, r.vendor_id, r.service_id, clocks.get(r.id, []))
        if nonzero(mine) != nonzero(decode(r.tallied)):
            wrong.append(r.id)
        total.update(mine)
    return total, wrong


def stored_tallies(connection: Any) -> Counter[tuple[Any, ...]]:
    found: Counter[tuple[Any, ...]] = Counter()
    for t in connection.execute(select(table_of(OutcomeTallyRow))).mappings():
        key = (OUTCOME, t["insurer_id"], t["vendor_id"], t["service_id"], t["clock_id"], t["party"], t["outcome"])
        found[(*key, t["working_days_bucket"])] += t["count"]
        found[(*key, t["working_days_bucket"], "e4")] += t["working_days_e4"]
    for t in connection.execute(select(table_of(WorkingDaysTallyRow))).mappings():
        series = (t["insurer_id"], t["vendor_id"], t["service_id"], t["clock_id"], t["party"])
        found[(DAYS, *series, t["working_days_tenths"])] += t["count"]
    for t in connection.execute(select(table_of(OpenClockTallyRow))).mappings():
        key = (OPEN_CLOCK, t["insurer_id"], t["vendor_id"], t["service_id"], t["clock_id"], t["party"], t["phase"])
        found[(*key, t["provisional"])] += t["count"]
    for t in connection.execute(select(table_of(OpenRequestTallyRow))).mappings():
        found[(REQUEST, t["insurer_id"], t["vendor_id"], t["service_id"])] += t["count"]
    for kind, table in ((MONTH, MonthTallyRow), (MONTH_DAYS, MonthDaysTallyRow)):
        for t in connection.execute(select(table_of(table))).mappings():
            found[(kind, *(t[column] for column in COLUMNS[kind]))] += t["count"]
    return found


def month_percentiles_drift(connection: Any) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    """Series whose stored month percentiles differ from their bins' (stored, worked out)."""
    bins: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for t in connection.execute(select(table_of(MonthDaysTallyRow))).mappings():
        if t["count"]:
            bins.setdefault(tuple(t[c] for c in MONTH_SERIES), []).append((t["working_days_tenths"], t["count"]))
    stored = {
        tuple(t[c] for c in MONTH_SERIES): (t["graded"], t["working_days_p50"], t["working_days_p90"])
        for t in connection.execute(select(table_of(MonthPercentileRow))).mappings()
        if t["graded"]
    }
    wanted = {key: (sum(n for _, n in found), *percentiles_of_bins(found)) for key, found in bins.items()}
    return {k: (stored.get(k), wanted.get(k)) for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k)}


def assert_tallies_exact(engine: Engine) -> None:
    with _snapshot(engine) as connection, connection.begin():
        expected, wrong = recounted(connection)
        found = stored_tallies(connection)
        percentiles = month_percentiles_drift(connection)
    assert not wrong, f"requests whose tallied column disagrees with their rows: {wrong}"
    stored, wanted = nonzero(found), nonzero(expected)
    drift = {
        k: (stored.get(k, 0), wanted.get(k, 0)) for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k)
    }
    assert not drift, f"tallies drifted (stored, expected): {drift}"
    assert not percentiles, f"month percentiles differ from their bins (stored, expected): {percentiles}"
