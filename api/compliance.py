"""Compliance per vendor x service x clock x owing party, as JSON or CSV.

Without a period it reads the tallies the projection keeps in its own transaction (O(series)); with
a period, the outcomes of that period through the index on when they happened; for a calendar month,
the month tally of the clocks due in it (`month_report`, which the scorecard page reads too: one
computation of a month's figures), O(series) whatever the number of clocks. Working days used are counted in tenths of a
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
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)

from api.access import narrow
from api.instants import BusinessInstant
from api.readings import instant, labelled, past_due, within
from sla.engine.model import Outcome
from sla.reports import (
    GRADED,
    QUANTILES,
    CalendarMonth,
    ComplianceLine,
    OutcomeCount,
    Series,
    WorkingDaysUsed,
    compliance,
    interpolated,
    month_line,
)
from store.keys import Principal
from store.models import ClockOutcomeRow, ClockRow, MonthTallyRow, OutcomeTallyRow, WorkingDaysTallyRow, table_of
from store.tally import COUNTING, MONTH_PERCENTILES, tenths_of
from store.types import AwareDateTime

TALLY, OUTCOMES, DAYS_TALLY = table_of(OutcomeTallyRow), table_of(ClockOutcomeRow), table_of(WorkingDaysTallyRow)
CLOCKS, MONTHS = table_of(ClockRow), table_of(MonthTallyRow)


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


Percentiles = dict[Series, tuple[float | None, float | None]]


def _percentiles_from_tally(connection: Connection, scope: Scope) -> Percentiles:
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


def _lines_of_outcomes(rows: list[Any]) -> list[ComplianceLine]:
    counts = [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.party, r.outcome) for r in rows]
    used = [
        WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, r.party, tenths_of(r.working_days_used) / 10)
        for r in rows
        if r.outcome in GRADED
    ]
    return compliance(counts, used)


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
    """A calendar month's lines."""

    month: CalendarMonth
    lines: list[ComplianceLine]


OUTCOME_NAMES = tuple(o.value for o in Outcome)
STANDINGS = (*OUTCOME_NAMES, COUNTING)
# A month series' row after its month, as _lines_of_month reads it (the tally's labels): the series in
# sla.reports' sort order, then its counts per standing and per standing owed past due at the month's end.
LINE_COLUMNS = (
    *("vendor_id", "service_id", "clock_id", "party"),
    *("met", "breached", "exempt", "cancelled", "counting", "counting_past_due", "breached_past_due"),
)


def _month_series(connection: Connection, scope: Scope, months: list[CalendarMonth]) -> dict[str, list[Any]]:
    """Each series of `months` within the scope, one row a series in one query: the month tally's
    counts per standing and per standing owed past due at the month's end (grouped in the primary
    key's order; a service is one insurer's, so the insurer splits no series), with the series' p50
    and p90 of its graded clocks as the writes left them (month_percentile, one row a series). A month
    costs its series, however many clocks were due."""
    m, p = MONTHS.c, MONTH_PERCENTILES.c
    wanted = [str(month) for month in months]
    key = (m.month, m.insurer_id, m.vendor_id, m.service_id, m.clock_id, m.party)

    def total(standing: str, past_due: bool = False) -> Any:
        # An aggregate FILTER, not sum(CASE ...): SQLite skips the sum for the other standings' rows.
        wanted = (m.standing == standing) & (m.past_due_at_end if past_due else true())
        summed = func.coalesce(func.sum(m.count).filter(wanted), 0)
        return summed.label(f"{standing}_past_due" if past_due else standing)

    tallied = (
        select(*key, *(total(standing) for standing in STANDINGS), total(COUNTING, True), total(Outcome.BREACHED, True))
        .where(m.month.in_(wanted), *scope.where(MONTHS))
        .group_by(*key)
        .subquery()
    )
    t = tallied.c
    # The months again on month_percentile's side: PostgreSQL otherwise hashes every month's percentiles.
    same_series = [t[column.name] == p[column.name] for column in key] + [p.month.in_(wanted)]
    query = select(t.month, *(t[name] for name in LINE_COLUMNS), p.working_days_p50, p.working_days_p90).select_from(
        tallied.outerjoin(MONTH_PERCENTILES, and_(*same_series, p.graded != 0))
    )
    rows: dict[str, list[Any]] = defaultdict(list)
    for row in connection.execute(query):
        rows[row[0]].append(row[1:])
    return rows


def _counting_past_due(connection: Connection, scope: Scope, month: CalendarMonth, now: datetime) -> Counter[Series]:
    """In the month `now` falls in, the counting clocks due in it before `now`: past their instant, the
    breach not recorded yet. Found through ix_clock_counting_due on its predicate and the instants alone
    (as api/reads.py's `_lagging`), the scope applied here: they are a herd's lag, not the month's clocks."""
    c = CLOCKS.c
    at_start = bindparam("month_start", month.start, type_=AwareDateTime())
    query = select(c.vendor_id, c.service_id, c.clock_id, c.party, c.insurer_id).where(
        *past_due(instant("now", now)), c.due_at > at_start
    )
    wanted = (("insurer_id", scope.insurer), ("vendor_id", scope.vendor), ("party", scope.party))
    return Counter(
        (row.vendor_id, row.service_id, row.clock_id, row.party)
        for row in connection.execute(query)
        if all(value is None or row._mapping[column] == value for column, value in wanted)
    )


def month_reports(
    connection: Connection, scope: Scope, months: list[CalendarMonth], now: datetime
) -> list[MonthReport]:
    """For each of `months`, the clocks due in it (Asia/Shanghai; a due instant of 24:00 on the last day
    is the month's), from the month tally the projection keeps (store.tally.month_keys): closed ones by
    their outcome, and those still counting down. A clock is open past due at its month's end when its
    due instant passed before the end (and before `now`) and it had not stopped by the end: the tally
    knows it for a breach and, once the month is over, for a counting clock; during the month a counting
    clock is past due when `now` is past its instant, which only the few clocks not recorded as breached
    yet are (`_counting_past_due`). The cost is the months' series, not the clocks."""
    if scope.nobody:
        return [MonthReport(month, []) for month in months]
    series = _month_series(connection, scope, months)
    reports = []
    for month in months:
        lagging = _counting_past_due(connection, scope, month, now) if month.start < now < month.end else Counter()
        lines = _lines_of_month(series[str(month)], lagging, now >= month.end)
        reports.append(MonthReport(month, lines))
    return reports


def _lines_of_month(rows: list[Any], lagging: Counter[Series], ended: bool) -> list[ComplianceLine]:
    """One month's lines from its series' rows (_month_series, LINE_COLUMNS then p50 and p90), with
    `lagging`, the counting clocks past due at `now` while the month runs (`ended`: the month is over):
    each line `sla.reports.month_line` of its row's counts. A count of 0 is no clock (a due instant
    moved to another month leaves its row at 0): a series with none has no line."""
    lines = []
    for row in sorted(rows):
        series = row[:4]
        met, breached, exempt, cancelled, counting, counting_late, breached_late, p50, p90 = row[4:]
        if not (met or breached or exempt or cancelled or counting):
            continue
        past_due = breached_late + (counting_late if ended else 0) + lagging[series]
        lines.append(month_line(series, (met, breached, exempt, cancelled), counting, past_due, (p50, p90)))
    return lines


def month_report(connection: Connection, scope: Scope, month: CalendarMonth, now: datetime) -> MonthReport:
    """One month's report (month_reports for a single month)."""
    [report] = month_reports(connection, scope, [month], now)
    return report


def breached_requests(connection: Connection, scope: Scope, month: CalendarMonth) -> dict[Series, list[str]]:
    """The requests behind each line's `breached` in a month (the scorecard lists them): the breached
    outcomes due in the month, through the index on due instants (as many rows as it lists)."""
    if scope.nobody:
        return {}
    o = OUTCOMES.c
    start = bindparam("month_start", month.start, type_=AwareDateTime())
    end = bindparam("month_end", month.end, type_=AwareDateTime())
    query = select(o.request_id, o.vendor_id, o.service_id, o.clock_id, o.party).where(
        o.due_at > start, o.due_at <= end, o.outcome == Outcome.BREACHED, *scope.where(OUTCOMES)
    )
    found: dict[Series, list[str]] = {}
    for row in connection.execute(query):
        found.setdefault((row.vendor_id, row.service_id, row.clock_id, row.party), []).append(row.request_id)
    return {key: sorted(ids) for key, ids in found.items()}


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
