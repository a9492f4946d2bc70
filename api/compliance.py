"""Compliance per vendor x service x clock x owing party, as JSON or CSV.

Without a period it reads the tallies the projection keeps in its own transaction (O(series)); with
a period, the outcomes of that period through the index on when they happened; for a calendar month,
the clocks due in the month through the indexes on due instants (`month_report`, which the scorecard
page reads too: one computation of a month's figures). Working days used are counted in tenths of a
day, rounded up (7.43 counts as 7.5): p50/p90 are exact to the tenth.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from fastapi.responses import Response
from sqlalchemy import BigInteger, ColumnElement, Connection, Table, and_, bindparam, cast, func, or_, select, text

from api.access import narrow
from api.instants import BusinessInstant
from api.readings import labelled, within
from sla.engine.model import Outcome
from sla.reports import (
    GRADED,
    QUANTILES,
    CalendarMonth,
    ComplianceLine,
    MonthCounts,
    OutcomeCount,
    Series,
    WorkingDaysUsed,
    compliance,
    interpolated,
)
from store.keys import Principal
from store.models import COUNTING_PREDICATE, ClockOutcomeRow, ClockRow, OutcomeTallyRow, WorkingDaysTallyRow, table_of
from store.tally import tenths_of
from store.types import AwareDateTime

TALLY, OUTCOMES, DAYS_TALLY = table_of(OutcomeTallyRow), table_of(ClockOutcomeRow), table_of(WorkingDaysTallyRow)
CLOCKS = table_of(ClockRow)


@dataclass(frozen=True)
class Scope:
    """Which lines a reading covers: the filters asked for, narrowed to the key's own vendor or insurer."""

    insurer: str | None = None
    vendor: str | None = None
    party: str | None = None
    # A filter outside the key's scope: no line, and no query (PostgreSQL refused the NUL that once
    # stood for "matches nobody" with a 500).
    nobody: bool = False

    def where(self, table: Table) -> list[ColumnElement[bool]]:
        return [*labelled(table, self.insurer, self.vendor), *([table.c.party == self.party] if self.party else [])]


def scope_of(principal: Principal, insurer: str | None, vendor: str | None, party: str | None = None) -> Scope:
    """A coordinator sees its own vendor only, an auditor its own insurer only (another: no line)."""
    reach = narrow(principal, vendor=vendor, insurer=insurer)
    return Scope(reach.insurer, reach.vendor, party, nobody=reach.outside)


def _counts_from_tally(connection: Connection, scope: Scope) -> list[OutcomeCount]:
    t = TALLY.c
    series = (t.vendor_id, t.service_id, t.clock_id, t.party)
    query = (
        select(*series, t.outcome, func.sum(t.count).label("n")).where(*scope.where(TALLY)).group_by(*series, t.outcome)
    )
    return [
        OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.party, r.outcome, int(r.n))
        for r in connection.execute(query)
    ]


def _percentiles_from_tally(connection: Connection, scope: Scope) -> dict[Series, tuple[float | None, float | None]]:
    """p50 and p90 of each series' working days, from the tally's bins: the database ranks the bins
    (window sums) and returns only those holding the ranks a quantile interpolates between, at most
    four a series, whatever the number of outcomes."""
    d = DAYS_TALLY.c
    binned = (
        select(
            d.vendor_id,
            d.service_id,
            d.clock_id,
            d.party,
            d.working_days_tenths.label("tenths"),
            func.sum(d.count).label("n"),
        )
        .where(*scope.where(DAYS_TALLY))
        .group_by(d.vendor_id, d.service_id, d.clock_id, d.party, d.working_days_tenths)
        .subquery()
    )
    b = binned.c
    series = (b.vendor_id, b.service_id, b.clock_id, b.party)
    # PostgreSQL sums a bigint into a numeric: cast back, so the rank arithmetic below is integer division.
    upto = cast(func.sum(b.n).over(partition_by=series, order_by=b.tenths), BigInteger)
    ranked = select(
        *series,
        b.tenths,
        (upto - b.n).label("first"),
        (upto - 1).label("last"),
        cast(func.sum(b.n).over(partition_by=series), BigInteger).label("total"),
    ).subquery()
    r = ranked.c
    wanted = []
    for q in QUANTILES:  # integer arithmetic: floor(q * (total - 1)) and the rank after it
        low = (r.total - 1) * q.numerator // q.denominator
        wanted += [and_(r.first <= low, r.last >= low), and_(r.first <= low + 1, r.last >= low + 1)]
    bins: dict[Series, list[tuple[int, int, int]]] = {}
    totals: dict[Series, int] = {}
    for row in connection.execute(select(ranked).where(or_(*wanted))):
        key = (row.vendor_id, row.service_id, row.clock_id, row.party)
        bins.setdefault(key, []).append((int(row.first), int(row.last), int(row.tenths)))
        totals[key] = int(row.total)

    def reader(key: Series) -> Callable[[int], float]:
        def value_at(rank: int) -> float:
            rank = min(rank, totals[key] - 1)
            return next(tenths / 10 for first, last, tenths in bins[key] if first <= rank <= last)

        return value_at

    return {key: tuple(interpolated(q, totals[key], reader(key)) for q in QUANTILES) for key in bins}  # type: ignore[misc]


def _outcomes(
    connection: Connection, scope: Scope, period_from: BusinessInstant | None, period_to: BusinessInstant | None
) -> list[Any]:
    o = OUTCOMES.c
    query = select(o.vendor_id, o.service_id, o.clock_id, o.party, o.outcome, o.working_days_used).where(
        *scope.where(OUTCOMES), *within(o.outcome_at, period_from, period_to, ("period_from", "period_to"))
    )
    return list(connection.execute(query))


def _lines_of_outcomes(rows: list[Any], month: MonthCounts | None = None) -> list[ComplianceLine]:
    counts = [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.party, r.outcome) for r in rows]
    used = [
        WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, r.party, tenths_of(r.working_days_used) / 10)
        for r in rows
        if r.outcome in GRADED
    ]
    return compliance(counts, used, month=month)


def compliance_lines(
    connection: Connection,
    principal: Principal,
    insurer: str | None,
    vendor: str | None,
    period_from: datetime | None,
    period_to: datetime | None,
    party: str | None = None,
) -> list[ComplianceLine]:
    """One line per vendor x service x clock x party within the key's scope (another vendor or insurer:
    none); `party` keeps the clocks one party owes (e.g. "vendor": a vendor's own compliance)."""
    scope = scope_of(principal, insurer, vendor, party)
    if scope.nobody:
        return []
    if period_from is None and period_to is None:
        counts = _counts_from_tally(connection, scope)
        return compliance(counts, percentiles=_percentiles_from_tally(connection, scope))
    return _lines_of_outcomes(_outcomes(connection, scope, period_from, period_to))


@dataclass(frozen=True)
class MonthReport:
    """A calendar month's lines, and the breached requests behind each line's `breached`."""

    month: CalendarMonth
    lines: list[ComplianceLine]
    breached_requests: dict[Series, list[str]]


def month_reports(
    connection: Connection, scope: Scope, months: list[CalendarMonth], now: datetime
) -> list[MonthReport]:
    """For each of `months` (consecutive, oldest first), the clocks due in it (Asia/Shanghai; a due
    instant of 24:00 on the last day is the month's): closed ones by their outcome, and those still
    counting down. A clock is open past due at its month's end when its due instant passed before the
    end (and before `now`) and it had not stopped by the end. Two queries for all the months: clock
    outcomes by their due instant, and the counting clocks through the partial index on theirs, so
    months cost their own clocks, not the table."""
    if scope.nobody:
        return [MonthReport(month, [], {}) for month in months]
    start = bindparam("months_start", months[0].start, type_=AwareDateTime())
    end = bindparam("months_end", months[-1].end, type_=AwareDateTime())
    o, c = OUTCOMES.c, CLOCKS.c
    closed = connection.execute(
        select(
            o.request_id,
            o.vendor_id,
            o.service_id,
            o.clock_id,
            o.party,
            o.outcome,
            o.working_days_used,
            o.due_at,
            c.stopped_at,
        )
        .select_from(
            OUTCOMES.outerjoin(
                CLOCKS, and_(c.request_id == o.request_id, c.clock_id == o.clock_id, c.instance == o.instance)
            )
        )
        .where(o.due_at > start, o.due_at <= end, *scope.where(OUTCOMES))
    ).all()
    counting = connection.execute(
        select(c.vendor_id, c.service_id, c.clock_id, c.party, c.due_at).where(
            text(COUNTING_PREDICATE), c.due_at > start, c.due_at <= end, *scope.where(CLOCKS)
        )
    ).all()
    closed_in: dict[CalendarMonth, list[Any]] = defaultdict(list)
    for outcome in closed:
        closed_in[CalendarMonth.of_due(outcome.due_at)].append(outcome)
    counting_in: dict[CalendarMonth, list[Any]] = defaultdict(list)
    for clock in counting:
        counting_in[CalendarMonth.of_due(clock.due_at)].append(clock)
    return [_month_of(month, closed_in[month], counting_in[month], now) for month in months]


def _month_of(month: CalendarMonth, closed: list[Any], counting: list[Any], now: datetime) -> MonthReport:
    """One month's lines from its own clocks (those due in it)."""
    due: Counter[Series] = Counter()
    open_past_due: Counter[Series] = Counter()
    past_due_before = min(month.end, now)
    for clock in counting:
        key = (clock.vendor_id, clock.service_id, clock.clock_id, clock.party)
        due[key] += 1
        if clock.due_at < past_due_before:  # past its instant, the breach not recorded yet
            open_past_due[key] += 1
    breached: dict[Series, list[str]] = {}
    for outcome in closed:
        if outcome.outcome == Outcome.BREACHED:
            key = (outcome.vendor_id, outcome.service_id, outcome.clock_id, outcome.party)
            breached.setdefault(key, []).append(outcome.request_id)
            undelivered = outcome.stopped_at is None or outcome.stopped_at > month.end
            if undelivered and outcome.due_at < month.end:
                open_past_due[key] += 1
    lines = _lines_of_outcomes(closed, MonthCounts(due, open_past_due))
    return MonthReport(month, lines, {key: sorted(ids) for key, ids in breached.items()})


def month_report(connection: Connection, scope: Scope, month: CalendarMonth, now: datetime) -> MonthReport:
    """One month's report (month_reports for a single month)."""
    [report] = month_reports(connection, scope, [month], now)
    return report


def as_csv(lines: list[ComplianceLine]) -> Response:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(ComplianceLine)])
    writer.writeheader()
    for line in lines:
        writer.writerow(asdict(line))
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="compliance.csv"'},
    )
