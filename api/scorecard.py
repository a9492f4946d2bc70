"""A vendor's month, as insurers settle it: the clocks each vendor owes that were due in a calendar month
(Asia/Shanghai), per vendor x service x clock, the six months before as a trend, and the breached
requests behind each line.

Every figure is a line of `compliance.month_report`, the reading `GET /v1/reports/compliance?month=`
returns: the page and the report cannot disagree (tests/api/test_month_report.py holds them equal).
Seven months of figures cost their series, not their clocks (the month tally); the breached requests
listed come from the index on due instants, as many rows as the page lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from api.access import narrow
from api.compliance import breached_requests, month_reports, scope_of
from sla.catalog.model import Party
from sla.reports import CalendarMonth, ComplianceLine, Series
from store.keys import Principal

TREND_MONTHS = 6


@dataclass(frozen=True)
class TrendPoint:
    month: CalendarMonth
    met: int
    breached: int

    @property
    def compliance(self) -> float | None:
        graded = self.met + self.breached
        return round(self.met / graded, 4) if graded else None


@dataclass(frozen=True)
class VendorTrend:
    vendor_id: str
    points: list[TrendPoint]  # oldest first, one per month before the scorecard's


@dataclass(frozen=True)
class Scorecard:
    insurer_id: str
    month: CalendarMonth
    lines: list[ComplianceLine]  # only clocks the vendor owes
    breached_requests: dict[Series, list[str]]
    trends: list[VendorTrend]


def in_scope(principal: Principal, insurer_id: str, vendor_id: str | None) -> bool:
    """An auditor reads its own insurer's scorecards, a coordinator its own vendor's rows; others all."""
    return not narrow(principal, vendor=vendor_id, insurer=insurer_id).outside


def scorecard(
    connection: Connection,
    principal: Principal,
    insurer_id: str,
    month: CalendarMonth,
    now: datetime,
    vendor_id: str | None = None,
) -> Scorecard | None:
    """None when out of the key's scope (the page answers 404, as for a request it may not see)."""
    if not in_scope(principal, insurer_id, vendor_id):
        return None
    scope = scope_of(principal, insurer_id, vendor_id, Party.VENDOR.value)
    *earlier_reports, report = month_reports(connection, scope, [*month.before(TREND_MONTHS), month], now)
    history = {earlier.month: earlier.lines for earlier in earlier_reports}
    vendors = sorted({line.vendor_id for line in report.lines} | {x.vendor_id for ls in history.values() for x in ls})
    trends = [
        VendorTrend(
            vendor,
            [
                TrendPoint(
                    earlier,
                    sum(x.met for x in lines if x.vendor_id == vendor),
                    sum(x.breached for x in lines if x.vendor_id == vendor),
                )
                for earlier, lines in history.items()
            ],
        )
        for vendor in vendors
    ]
    return Scorecard(insurer_id, month, report.lines, breached_requests(connection, scope, month), trends)
