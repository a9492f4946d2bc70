"""Compliance per vendor x service x clock, as JSON or CSV, counted from the outcome rows."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import select

from api.deps import PrincipalDep, SessionDep
from api.problems import Problem
from api.routes.requests import PROBLEM_RESPONSES
from api.schemas import Identifier
from sla.reports import ComplianceLine, OutcomeFact, compliance
from store.keys import Role
from store.models import ClockOutcomeRow

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/compliance",
    response_model=list[ComplianceLine],
    responses={**PROBLEM_RESPONSES, 200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def compliance_report(
    principal: PrincipalDep,
    session: SessionDep,
    insurer: Identifier | None = None,
    vendor: Identifier | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> list[ComplianceLine] | Response:
    """met, breached, exempt, cancelled, compliance = met / (met + breached), working days used p50/p90.
    The period filters on when each outcome happened (stop time, or due instant for a breach)."""
    query = select(ClockOutcomeRow)
    if principal.role is Role.COORDINATOR:
        vendor = principal.vendor_id if vendor in (None, principal.vendor_id) else "\0"
    if principal.role is Role.AUDITOR:
        insurer = principal.insurer_id if insurer in (None, principal.insurer_id) else "\0"
    for bound in (period_from, period_to):
        if bound is not None and bound.tzinfo is None:
            raise Problem(
                422, "Timezone Required", "period bounds need an offset, e.g. +08:00", rule="time.timezone_required"
            )
    if insurer:
        query = query.where(ClockOutcomeRow.insurer_id == insurer)
    if vendor:
        query = query.where(ClockOutcomeRow.vendor_id == vendor)
    if period_from:
        query = query.where(ClockOutcomeRow.outcome_at >= period_from)
    if period_to:
        query = query.where(ClockOutcomeRow.outcome_at < period_to)
    facts = [
        OutcomeFact(r.vendor_id, r.service_id, r.clock_id, r.outcome, r.working_days_used)
        for r in session.exec(query).all()
    ]
    lines = compliance(facts)
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
