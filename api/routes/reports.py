"""Compliance per vendor x service x clock, as JSON or CSV.

Without a period it reads the tallies the projection keeps in its own transaction (O(series)); with
a period, the outcomes of that period through the index on when they happened. Working days used are
counted in tenths of a day, rounded up (7.43 counts as 7.5): p50/p90 are exact to the tenth.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import Connection, bindparam, func, select

from api.deps import PrincipalDep, StateDep
from api.problems import PROBLEM_RESPONSES
from api.schemas import BusinessInstant, Identifier
from sla.reports import GRADED, ComplianceLine, OutcomeCount, WorkingDaysUsed, compliance
from store.keys import Role
from store.models import ClockOutcomeRow, OutcomeTallyRow, WorkingDaysTallyRow, table_of
from store.tally import tenths_of
from store.types import AwareDateTime

router = APIRouter(prefix="/v1/reports", tags=["reports"])
TALLY, OUTCOMES, DAYS_TALLY = table_of(OutcomeTallyRow), table_of(ClockOutcomeRow), table_of(WorkingDaysTallyRow)
NOBODY = "\0"  # a scope that matches no row


def _counts_from_tally(connection: Connection, insurer: str | None, vendor: str | None) -> list[OutcomeCount]:
    t = TALLY.c
    query = select(t.vendor_id, t.service_id, t.clock_id, t.outcome, func.sum(t.count).label("n")).group_by(
        t.vendor_id, t.service_id, t.clock_id, t.outcome
    )
    if insurer:
        query = query.where(t.insurer_id == insurer)
    if vendor:
        query = query.where(t.vendor_id == vendor)
    return [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome, int(r.n)) for r in connection.execute(query)]


def _days_from_tally(connection: Connection, insurer: str | None, vendor: str | None) -> list[WorkingDaysUsed]:
    d = DAYS_TALLY.c
    query = select(d.vendor_id, d.service_id, d.clock_id, d.working_days_tenths, func.sum(d.count).label("n")).group_by(
        d.vendor_id, d.service_id, d.clock_id, d.working_days_tenths
    )
    if insurer:
        query = query.where(d.insurer_id == insurer)
    if vendor:
        query = query.where(d.vendor_id == vendor)
    return [
        WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, r.working_days_tenths / 10, int(r.n))
        for r in connection.execute(query)
        if r.n
    ]


def _outcomes(
    connection: Connection,
    insurer: str | None,
    vendor: str | None,
    period_from: BusinessInstant | None,
    period_to: BusinessInstant | None,
) -> list[Any]:
    o = OUTCOMES.c
    query = select(o.vendor_id, o.service_id, o.clock_id, o.outcome, o.working_days_used)
    if insurer:
        query = query.where(o.insurer_id == insurer)
    if vendor:
        query = query.where(o.vendor_id == vendor)
    if period_from:
        query = query.where(o.outcome_at >= bindparam("period_from", period_from, type_=AwareDateTime()))
    if period_to:
        query = query.where(o.outcome_at < bindparam("period_to", period_to, type_=AwareDateTime()))
    return list(connection.execute(query))


@router.get(
    "/compliance",
    response_model=list[ComplianceLine],
    responses={**PROBLEM_RESPONSES, 200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def compliance_report(
    principal: PrincipalDep,
    state: StateDep,
    insurer: Identifier | None = None,
    vendor: Identifier | None = None,
    period_from: BusinessInstant | None = None,
    period_to: BusinessInstant | None = None,
    format: Literal["json", "csv"] = "json",
) -> list[ComplianceLine] | Response:
    """met, breached, exempt, cancelled, compliance = met / (met + breached), working days used p50/p90.
    The period filters on when each outcome happened (stop time, or due instant for a breach)."""
    if principal.role is Role.COORDINATOR:
        vendor = principal.vendor_id if vendor in (None, principal.vendor_id) else NOBODY
    if principal.role is Role.AUDITOR:
        insurer = principal.insurer_id if insurer in (None, principal.insurer_id) else NOBODY
    with state.engine.connect() as connection:
        if period_from is None and period_to is None:
            counts = _counts_from_tally(connection, insurer, vendor)
            used = _days_from_tally(connection, insurer, vendor)
        else:
            rows = _outcomes(connection, insurer, vendor, period_from, period_to)
            counts = [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome) for r in rows]
            used = [
                WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, tenths_of(r.working_days_used) / 10)
                for r in rows
                if r.outcome in GRADED
            ]
    lines = compliance(counts, used)
    if format == "csv":
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
    return lines
