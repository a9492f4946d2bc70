"""Reports: compliance per vendor x service x clock, as JSON or CSV (api/compliance.py counts)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from api import compliance
from api.deps import PrincipalDep, StateDep
from api.instants import BusinessInstant
from api.problems import PROBLEM_RESPONSES
from api.schemas import Identifier
from sla.reports import ComplianceLine

router = APIRouter(prefix="/v1/reports", tags=["reports"])


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
    with state.engine.connect() as connection:
        lines = compliance.compliance_lines(connection, principal, insurer, vendor, period_from, period_to)
    return compliance.as_csv(lines) if format == "csv" else lines
