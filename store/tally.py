"""What one request adds to the tallies, and applying the difference in the writer's transaction.

A request row stores its own contribution (`RequestRow.tallied`), so a write takes back exactly what
the stored state added and adds what the new state adds, whatever wrote the stored state (an earlier
revision, an abandoned attempt, or nothing). Counts never drift, retried writes never count twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlmodel import SQLModel

from sla.engine.model import Outcome
from sla.engine.reading import Phase, counts_as_open
from sla.events import RequestStatus
from sla.reports import GRADED, QUANTILES, CalendarMonth, weighted_percentile
from store.models import (
    MonthDaysTallyRow,
    MonthPercentileRow,
    MonthTallyRow,
    OpenClockTallyRow,
    OpenRequestTallyRow,
    OutcomeTallyRow,
    WorkingDaysTallyRow,
    table_of,
)
from store.upsert import increment

REQUEST, OUTCOME, OPEN_CLOCK, DAYS = "request", "outcome", "open", "days"
MONTH, MONTH_DAYS = "month", "month_days"
COUNTING = "counting"  # a month tally's standing for a clock still counting down (running, at risk)
COUNTING_PHASES = (Phase.RUNNING.value, Phase.AT_RISK.value)  # store.models.COUNTING_PREDICATE
Key = tuple[Any, ...]


@dataclass(frozen=True)
class ClockFacts:
    """The fields of a clock the tallies count (from a snapshot or a stored row)."""

    clock_id: str
    party: str  # who owes it: part of every clock key, so a vendor's figures can leave out the others'
    state: str
    phase: str
    outcome: str | None
    working_days_used: float
    provisional: bool
    stopped_at: datetime | None
    due_at: datetime | None = None  # the month tally's month (None: in no month)


def working_days_e4(days: float) -> int:
    """Working days as an exact integer (the engine rounds them to 4 decimals)."""
    return round(days * 10_000)


# The bounds of sla_clock_working_days_used (working days): the outcome tally counts each closed clock
# in the first bucket whose bound it does not exceed, so a scrape reads at most 13 rows per series.
# Changing them needs a migration that recounts the tally.
WORKING_DAY_BUCKETS = (0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 60)


def bucket_of(days: float) -> int:
    """Index of the first bucket bound >= days (exact: compared in 10^-4 days); len(buckets) for +Inf."""
    value = working_days_e4(days)
    for index, bound in enumerate(WORKING_DAY_BUCKETS):
        if value <= round(bound * 10_000):
            return index
    return len(WORKING_DAY_BUCKETS)


def tenths_of(days: float) -> int:
    """The tenth of a working day a value falls in, rounded up: 7.43 -> 75 (reported as 7.5)."""
    return -(-working_days_e4(days) // 1000)


def contribution(
    status: str, insurer_id: str, vendor_id: str, service_id: str, clocks: Iterable[ClockFacts]
) -> Counter[Key]:
    """Tally key -> amount. Outcome keys carry working days as a second, separate key."""
    labels = (insurer_id, vendor_id, service_id)
    counts: Counter[Key] = Counter()
    if status == RequestStatus.OPEN:
        counts[(REQUEST, *labels)] += 1
    for clock in clocks:
        if clock.outcome is not None:
            key = (OUTCOME, *labels, clock.clock_id, clock.party, clock.outcome, bucket_of(clock.working_days_used))
            counts[key] += 1
            counts[(*key, "e4")] += working_days_e4(clock.working_days_used)
            if clock.outcome in GRADED:
                counts[(DAYS, *labels, clock.clock_id, clock.party, tenths_of(clock.working_days_used))] += 1
        if counts_as_open(status, clock.state, clock.stopped_at):
            counts[(OPEN_CLOCK, *labels, clock.clock_id, clock.party, clock.phase, clock.provisional)] += 1
        counts.update(month_keys(labels, clock))
    return counts


def month_keys(labels: tuple[str, str, str], clock: ClockFacts) -> list[Key]:
    """The month tally keys of a clock with a due instant: its outcome (graded ones with their working
    days in tenths too) and whether it counts down, each with whether it was owed and past due at the end
    of its due month (a breach undelivered at the end; a counting clock due before 24:00 of the last day)."""
    if clock.due_at is None:
        return []
    month = CalendarMonth.of_due(clock.due_at)
    series = (str(month), *labels, clock.clock_id, clock.party)
    before_end = clock.due_at < month.end
    keys: list[Key] = []
    if clock.outcome is not None:
        undelivered = clock.stopped_at is None or clock.stopped_at > month.end
        keys.append((MONTH, *series, clock.outcome, clock.outcome == Outcome.BREACHED and undelivered and before_end))
        if clock.outcome in GRADED:
            keys.append((MONTH_DAYS, *series, tenths_of(clock.working_days_used)))
    if clock.phase in COUNTING_PHASES:
        keys.append((MONTH, *series, COUNTING, before_end))
    return keys


def encode(counts: Mapping[Key, int]) -> list[list[Any]]:
    """For the JSON column: [[key..., amount], ...] in a stable order."""
    return [[*key, amount] for key, amount in sorted(counts.items(), key=lambda kv: repr(kv[0])) if amount]


def decode(stored: list[list[Any]] | None) -> Counter[Key]:
    return Counter({tuple(item[:-1]): int(item[-1]) for item in stored or []})


COLUMNS: dict[str, tuple[str, ...]] = {
    REQUEST: ("insurer_id", "vendor_id", "service_id"),
    DAYS: ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "working_days_tenths"),
    OPEN_CLOCK: ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "phase", "provisional"),
    OUTCOME: ("insurer_id", "vendor_id", "service_id", "clock_id", "party", "outcome", "working_days_bucket"),
    MONTH: ("month", "insurer_id", "vendor_id", "service_id", "clock_id", "party", "standing", "past_due_at_end"),
    MONTH_DAYS: ("month", "insurer_id", "vendor_id", "service_id", "clock_id", "party", "working_days_tenths"),
}
MONTH_SERIES = COLUMNS[MONTH_DAYS][:-1]  # the key of a due month's series: MonthPercentileRow's


def apply_difference(connection: Connection, before: Counter[Key], after: Counter[Key]) -> None:
    """Add after - before to the tally tables. Keys are applied in sorted order, so two concurrent
    writers always lock tally rows in the same order (no deadlock on PostgreSQL)."""
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in set(before) | set(after)}
    outcome_sums: dict[Key, int] = {}
    for key, amount in delta.items():
        if key[0] == OUTCOME and key[-1] == "e4":
            outcome_sums[key[:-1]] = amount
    tables: dict[str, type[SQLModel]] = {
        REQUEST: OpenRequestTallyRow,
        DAYS: WorkingDaysTallyRow,
        OPEN_CLOCK: OpenClockTallyRow,
        MONTH: MonthTallyRow,
        MONTH_DAYS: MonthDaysTallyRow,
    }
    for key in sorted((k for k in delta if not (k[0] == OUTCOME and k[-1] == "e4")), key=repr):
        amount, kind = delta[key], key[0]
        columns = dict(zip(COLUMNS[kind], key[1:], strict=True))
        if kind == OUTCOME:
            days = outcome_sums.get(key, 0)
            if amount or days:
                increment(connection, OutcomeTallyRow, columns, {"count": amount, "working_days_e4": days})
        elif amount:
            increment(connection, tables[kind], columns, {"count": amount})
    moved = {key[1:-1] for key, amount in delta.items() if key[0] == MONTH_DAYS and amount}
    refresh_month_percentiles(connection, sorted(moved, key=repr))


MONTH_DAYS_BINS, MONTH_PERCENTILES = table_of(MonthDaysTallyRow), table_of(MonthPercentileRow)


def percentiles_of_bins(bins: Iterable[tuple[int, int]]) -> tuple[float | None, float | None]:
    """p50 and p90 of working days given as (tenths, how many): the compliance report's figures."""
    values = [(tenths / 10, count) for tenths, count in bins]
    return weighted_percentile(values, QUANTILES[0]), weighted_percentile(values, QUANTILES[1])


def refresh_month_percentiles(connection: Connection, moved: list[Key]) -> None:
    """Work out again the p50 and p90 of each due month's series in `moved` (MONTH_SERIES values) from
    its bins. The row is locked first (an upsert), so of two writers changing one series' bins the
    later reads after the earlier committed (PostgreSQL reads each statement's committed rows) and
    stores what both wrote; in sorted order, as apply_difference's keys, so they never deadlock."""
    for series in moved:
        key = dict(zip(MONTH_SERIES, series, strict=True))
        increment(connection, MonthPercentileRow, key, {"graded": 0})
        b = MONTH_DAYS_BINS.c
        bins = connection.execute(
            select(b.working_days_tenths, b.count).where(*(b[column] == value for column, value in key.items()))
        ).all()
        p50, p90 = percentiles_of_bins((int(tenths), int(count)) for tenths, count in bins)
        p = MONTH_PERCENTILES.c
        connection.execute(
            update(MONTH_PERCENTILES)
            .where(*(p[column] == value for column, value in key.items()))
            .values(graded=sum(int(count) for _, count in bins), working_days_p50=p50, working_days_p90=p90)
        )
