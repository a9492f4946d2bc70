"""Compliance per vendor x service x clock, as JSON or CSV.

Without a period it reads the tallies the projection keeps in its own transaction (O(series)); with
a period, the outcomes of that period through the index on when they happened. Working days used are
counted in tenths of a day, rounded up (7.43 counts as 7.5): p50/p90 are exact to the tenth.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from fastapi.responses import Response
from sqlalchemy import BigInteger, Connection, and_, cast, func, or_, select

from api.instants import BusinessInstant
from api.readings import labelled, within
from sla.reports import (
    GRADED,
    QUANTILES,
    ComplianceLine,
    OutcomeCount,
    Series,
    WorkingDaysUsed,
    compliance,
    interpolated,
)
from store.keys import Principal, Role
from store.models import ClockOutcomeRow, OutcomeTallyRow, WorkingDaysTallyRow, table_of
from store.tally import tenths_of

TALLY, OUTCOMES, DAYS_TALLY = table_of(OutcomeTallyRow), table_of(ClockOutcomeRow), table_of(WorkingDaysTallyRow)


def _counts_from_tally(connection: Connection, insurer: str | None, vendor: str | None) -> list[OutcomeCount]:
    t = TALLY.c
    query = (
        select(t.vendor_id, t.service_id, t.clock_id, t.outcome, func.sum(t.count).label("n"))
        .where(*labelled(TALLY, insurer, vendor))
        .group_by(t.vendor_id, t.service_id, t.clock_id, t.outcome)
    )
    return [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome, int(r.n)) for r in connection.execute(query)]


def _percentiles_from_tally(
    connection: Connection, insurer: str | None, vendor: str | None
) -> dict[Series, tuple[float | None, float | None]]:
    """p50 and p90 of each series' working days, from the tally's bins: the database ranks the bins
    (window sums) and returns only those holding the ranks a quantile interpolates between, at most
    four a series, whatever the number of outcomes."""
    d = DAYS_TALLY.c
    binned = (
        select(
            d.vendor_id, d.service_id, d.clock_id, d.working_days_tenths.label("tenths"), func.sum(d.count).label("n")
        )
        .where(*labelled(DAYS_TALLY, insurer, vendor))
        .group_by(d.vendor_id, d.service_id, d.clock_id, d.working_days_tenths)
        .subquery()
    )
    b = binned.c
    series = (b.vendor_id, b.service_id, b.clock_id)
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
        key = (row.vendor_id, row.service_id, row.clock_id)
        bins.setdefault(key, []).append((int(row.first), int(row.last), int(row.tenths)))
        totals[key] = int(row.total)

    def reader(key: Series) -> Callable[[int], float]:
        def value_at(rank: int) -> float:
            rank = min(rank, totals[key] - 1)
            return next(tenths / 10 for first, last, tenths in bins[key] if first <= rank <= last)

        return value_at

    return {key: tuple(interpolated(q, totals[key], reader(key)) for q in QUANTILES) for key in bins}  # type: ignore[misc]


def _outcomes(
    connection: Connection,
    insurer: str | None,
    vendor: str | None,
    period_from: BusinessInstant | None,
    period_to: BusinessInstant | None,
) -> list[Any]:
    o = OUTCOMES.c
    period = within(o.outcome_at, period_from, period_to, ("period_from", "period_to"))
    query = select(o.vendor_id, o.service_id, o.clock_id, o.outcome, o.working_days_used).where(
        *labelled(OUTCOMES, insurer, vendor), *period
    )
    return list(connection.execute(query))


def compliance_lines(
    connection: Connection,
    principal: Principal,
    insurer: str | None,
    vendor: str | None,
    period_from: datetime | None,
    period_to: datetime | None,
) -> list[ComplianceLine]:
    """One line per vendor x service x clock within the key's scope (another vendor or insurer: none)."""
    # Outside the key's scope: no lines, without asking the database (PostgreSQL refused the NUL that
    # once stood for "matches nobody" with a 500).
    if principal.role is Role.COORDINATOR:
        if vendor not in (None, principal.vendor_id):
            return []
        vendor = principal.vendor_id
    if principal.role is Role.AUDITOR:
        if insurer not in (None, principal.insurer_id):
            return []
        insurer = principal.insurer_id
    if period_from is None and period_to is None:
        counts = _counts_from_tally(connection, insurer, vendor)
        return compliance(counts, percentiles=_percentiles_from_tally(connection, insurer, vendor))
    rows = _outcomes(connection, insurer, vendor, period_from, period_to)
    counts = [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome) for r in rows]
    used = [
        WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, tenths_of(r.working_days_used) / 10)
        for r in rows
        if r.outcome in GRADED
    ]
    return compliance(counts, used)


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
