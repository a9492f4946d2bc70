"""Compliance per vendor x service x clock, as JSON or CSV.

Without a period it reads the outcome tally (O(series), kept in the projection's transaction); with
a period it reads the outcomes of that period through the index on when they happened. Working days
used are counted in tenths of a day rounded up, so p50/p90 are exact to the tenth in both cases.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import Connection, bindparam, func, select

from api.deps import PrincipalDep, StateDep
from api.problems import PROBLEM_RESPONSES
from api.schemas import BusinessInstant, Identifier
from sla.reports import ComplianceLine, OutcomeCount, compliance
from store.keys import Role
from store.models import ClockOutcomeRow, OutcomeTallyRow, table_of
from store.tally import tenths_bin
from store.types import AwareDateTime

router = APIRouter(prefix="/v1/reports", tags=["reports"])
TALLY, OUTCOMES = table_of(OutcomeTallyRow), table_of(ClockOutcomeRow)
NOBODY = "\0"  # a scope that matches no row


def _from_tally(connection: Connection, insurer: str | None, vendor: str | None) -> list[OutcomeCount]:
    t = TALLY.c
    query = select(
        t.vendor_id, t.service_id, t.clock_id, t.outcome, t.working_days_tenths, func.sum(t.count).label("n")
    ).group_by(t.vendor_id, t.service_id, t.clock_id, t.outcome, t.working_days_tenths)
    if insurer:
        query = query.where(t.insurer_id == insurer)
    if vendor:
        query = query.where(t.vendor_id == vendor)
    return [
        OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome, r.working_days_tenths / 10, int(r.n))
        for r in connection.execute(query)
        if r.n
    ]


def _from_period(
    connection: Connection,
    insurer: str | None,
    vendor: str | None,
    period_from: BusinessInstant | None,
    period_to: BusinessInstant | None,
) -> list[OutcomeCount]:
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
    return [
        OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.outcome, tenths_bin(r.working_days_used) / 10)
        for r in connection.execute(query)
    ]


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
    """met, breached, exempt, cancelled, compliance = met / (met + breached), working days used p50/p90
    (to the tenth of a day). The period filters on when each outcome happened (stop, or due for a breach)."""
    if principal.role is Role.COORDINATOR:
        vendor = principal.vendor_id if vendor in (None, principal.vendor_id) else NOBODY
    if principal.role is Role.AUDITOR:
        insurer = principal.insurer_id if insurer in (None, principal.insurer_id) else NOBODY
    with state.engine.connect() as connection:
        if period_from is None and period_to is None:
            counts = _from_tally(connection, insurer, vendor)
        else:
            counts = _from_period(connection, insurer, vendor, period_from, period_to)
    lines = compliance(counts)
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
