"""Reports: compliance per vendor x service x clock, as JSON or CSV (api/compliance.py counts)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api import compliance
from api.deps import PrincipalDep, StateDep
from api.instants import BusinessInstant
from api.problems import PROBLEM_RESPONSES, Problem
from api.schemas import Identifier
from sla.catalog.model import Party
from sla.reports import CalendarMonth, ComplianceLine

MONTH_RULE = "a month is YYYY-MM, a calendar month in Asia/Shanghai, and replaces period_from/period_to"
MONTH_SOURCE = "sla/reports.py"  # CalendarMonth: what "in the month" means

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
    month: Annotated[
        str | None,
        Query(
            description="YYYY-MM: the clocks due in this calendar month (Asia/Shanghai), with `due` and "
            "`open_past_due`; the figures of the scorecard page"
        ),
    ] = None,
    party: Annotated[
        Party | None, Query(description="only the clocks this party owes (vendor: a vendor's own compliance)")
    ] = None,
    format: Literal["json", "csv"] = "json",
) -> list[ComplianceLine] | Response:
    """met, breached, exempt, cancelled, compliance = met / (met + breached), working days used p50/p90,
    per vendor x service x clock x owing party. The period filters on when each outcome happened (stop
    time, or due instant for a breach); a month counts the clocks due in it."""
    owed_by = party.value if party else None
    if month is None:
        with state.engine.connect() as connection:
            lines = compliance.compliance_lines(connection, principal, insurer, vendor, period_from, period_to, owed_by)
        return compliance.as_csv(lines) if format == "csv" else lines
    if period_from is not None or period_to is not None:
        raise Problem(
            422, "Unprocessable Content", "send a month or a period, not both", rule=MONTH_RULE, source=MONTH_SOURCE
        )
    try:
        wanted = CalendarMonth.parse(month)
    except ValueError as error:
        raise Problem(422, "Unprocessable Content", str(error), rule=MONTH_RULE, source=MONTH_SOURCE) from None
    scope = compliance.scope_of(principal, insurer, vendor, owed_by)
    with state.engine.connect() as connection:
        report = compliance.month_report(connection, scope, wanted, state.now())
    return compliance.as_csv(report.lines) if format == "csv" else report.lines
