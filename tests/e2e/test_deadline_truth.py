"""Issue 21 over HTTP against the live stack (SQLite and PostgreSQL): for each defect, a request is opened,
its events sent, its view read and the compliance report checked, as a coordinator and an auditor would.

Every instant is in 2025, long before the server's clock, so an unstopped clock reads as breached now.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.helpers import at, instant, open_request, send

VENDOR = "vendor-reliable"


async def opened(http: httpx.AsyncClient, live: Any, service_id: str, when: datetime) -> str:
    # A fresh policy number per request: the quotas count per policy year.
    answer = await open_request(
        http, live, service_id=service_id, opened_at=when.isoformat(), policy_no=f"P-DT-{uuid.uuid4().hex[:10]}"
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def events(http: httpx.AsyncClient, live: Any, request_id: str, *sent: tuple[str, datetime]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for kind, when in sent:
        answer = await send(http, live, request_id, kind, when)
        assert answer.status_code == 200, answer.text
        view = answer.json()
    return view


async def viewed(http: httpx.AsyncClient, live: Any, request_id: str) -> dict[str, dict[str, Any]]:
    """The request as read back from the read model: its clocks by id (the last instance of each)."""
    answer = await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))
    assert answer.status_code == 200, answer.text
    return {c["clock_id"]: c for c in sorted(answer.json()["clocks"], key=lambda c: c.get("instance", 1))}


async def report(http: httpx.AsyncClient, live: Any, service_id: str, clock_id: str) -> dict[str, int]:
    lines = (
        await http.get("/v1/reports/compliance", params={"vendor": VENDOR}, headers=live.headers("operations"))
    ).json()
    line = next((r for r in lines if r["service_id"] == service_id and r["clock_id"] == clock_id), None)
    return {k: int(line[k]) if line else 0 for k in ("met", "breached", "exempt")}


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in before}


# -- 002:L470-471 ----------------------------------------------------------------------------------------
JAPAN = "axa.zhuoyue.japan_medical"


async def test_a_rejected_japan_request_shows_no_specialist_breach_in_view_or_report(
    http: httpx.AsyncClient, live: Any
) -> None:
    before = await report(http, live, JAPAN, "assign_specialist")
    request_id = await opened(http, live, JAPAN, at(2025, 11, 3, 9))
    await events(
        http,
        live,
        request_id,
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("rejection_notified", at(2025, 11, 5, 15)),
        ("customer_confirmed", at(2025, 11, 5, 15, 10)),  # the insured acknowledges, the v2 way
    )
    clocks = await viewed(http, live, request_id)
    assert clocks["assign_specialist"]["state"] == "pending" and clocks["assign_specialist"]["due_at"] is None
    assert clocks["notify_no_start"]["state"] == "met"
    assert moved(before, await report(http, live, JAPAN, "assign_specialist"))["breached"] == 0


async def test_a_japan_re_approval_is_not_met_by_the_rejections_notice(http: httpx.AsyncClient, live: Any) -> None:
    request_id = await opened(http, live, JAPAN, at(2025, 11, 3, 9))
    view = await events(
        http,
        live,
        request_id,
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("customer_confirmed", at(2025, 11, 5, 15)),
        ("eligibility_approved", at(2025, 11, 10, 10)),
    )
    notice = next(c for c in view["clocks"] if c["clock_id"] == "notify_start")
    assert notice["state"] == "breached" and notice["stopped_at"] is None  # owed since 11-10, never met
    await events(
        http, live, request_id, ("customer_confirmed", at(2025, 11, 11, 9)), ("expert_confirmed", at(2025, 11, 13, 9))
    )
    clocks = await viewed(http, live, request_id)
    # The late notice that arrived with an earlier effective time meets it after all (a correction).
    assert clocks["notify_start"]["state"] == "met"
    specialist = clocks["assign_specialist"]
    assert (instant(specialist["started_at"]), instant(specialist["due_at"])) == (at(2025, 11, 11, 9), at(2025, 11, 14))
    assert specialist["state"] == "met"


# -- 001:L566-567 ----------------------------------------------------------------------------------------
DIRECT = "unnamed.ci_inpatient.direct_pay"


async def test_a_discharge_nobody_announced_is_exempt_and_an_announced_one_breaches_at_midnight(
    http: httpx.AsyncClient, live: Any
) -> None:
    before = await report(http, live, DIRECT, "discharge_settlement")
    unannounced = await opened(http, live, DIRECT, at(2025, 11, 3, 9))
    await events(http, live, unannounced, ("patient_discharged", at(2025, 11, 5, 10)))
    settlement = (await viewed(http, live, unannounced))["discharge_settlement"]
    assert (settlement["state"], settlement["breached_at"]) == ("exempt", None)
    announced = await opened(http, live, DIRECT, at(2025, 11, 3, 9))
    await events(
        http, live, announced, ("discharge_notified", at(2025, 11, 4, 16)), ("patient_discharged", at(2025, 11, 5, 10))
    )
    settlement = (await viewed(http, live, announced))["discharge_settlement"]
    assert (settlement["state"], instant(settlement["breached_at"])) == ("breached", at(2025, 11, 6))
    assert moved(before, await report(http, live, DIRECT, "discharge_settlement")) == {
        "met": 0,
        "breached": 1,
        "exempt": 1,
    }


# -- 001:L552 --------------------------------------------------------------------------------------------
GREEN = "unnamed.ci_inpatient.green_channel"


async def test_a_late_positive_verdict_withdraws_the_notice_breach_from_the_report(
    http: httpx.AsyncClient, live: Any
) -> None:
    before = await report(http, live, GREEN, "materials_verdict")
    request_id = await opened(http, live, GREEN, at(2025, 11, 3, 9))
    view = await events(http, live, request_id, ("materials_received", at(2025, 11, 3, 10)))
    assert next(c for c in view["clocks"] if c["clock_id"] == "materials_verdict")["state"] == "breached"
    assert moved(before, await report(http, live, GREEN, "materials_verdict"))["breached"] == 1
    await events(http, live, request_id, ("eligibility_approved", at(2025, 11, 7, 10)))
    verdict = (await viewed(http, live, request_id))["materials_verdict"]
    assert (verdict["state"], verdict["breached_at"]) == ("exempt", None)
    assert moved(before, await report(http, live, GREEN, "materials_verdict")) == {"met": 0, "breached": 0, "exempt": 1}


# -- same-day escorts: 003:L28-30, 001:L137, 001:L346 ------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "clock_id", "visit"),
    [
        ("zhongan.green_channel.expert_outpatient", "escort_on_visit_day", "consultation_held"),  # 003:L28
        ("zhongan.green_channel.inpatient", "escort_on_admission_day", "patient_admitted"),  # 003:L30
        ("anxin.cancer_inpatient_green_channel", "escort_on_admission_day", "patient_admitted"),  # 001:L137
        ("ruitai.ci_green_channel.expert_outpatient", "escort_on_visit_day", "consultation_held"),  # 001:L346
    ],
)
async def test_a_visit_without_its_escort_that_day_is_a_breach_in_view_and_report(
    http: httpx.AsyncClient, live: Any, service: str, clock_id: str, visit: str
) -> None:
    before = await report(http, live, service, clock_id)
    alone = await opened(http, live, service, at(2025, 11, 3, 9))
    await events(http, live, alone, (visit, at(2025, 11, 10, 10)))
    escort = (await viewed(http, live, alone))[clock_id]
    assert (escort["state"], instant(escort["breached_at"])) == ("breached", at(2025, 11, 11))
    escorted = await opened(http, live, service, at(2025, 11, 3, 9))
    await events(http, live, escorted, ("escort_provided", at(2025, 11, 10, 9, 30)), (visit, at(2025, 11, 10, 10)))
    assert (await viewed(http, live, escorted))[clock_id]["state"] == "met"
    assert moved(before, await report(http, live, service, clock_id)) == {"met": 1, "breached": 1, "exempt": 0}


# -- 003:L4751, L4763 --------------------------------------------------------------------------------------
async def test_an_o2o_order_delivered_the_next_morning_is_late_in_view_and_report(
    http: httpx.AsyncClient, live: Any
) -> None:
    o2o = "zhongan.direct_drug_settlement.o2o"
    before = await report(http, live, o2o, "deliver_same_day")
    request_id = await opened(http, live, o2o, at(2025, 11, 10, 9))
    await events(http, live, request_id, ("order_paid", at(2025, 11, 10, 10)), ("drug_delivered", at(2025, 11, 11, 9)))
    delivery = (await viewed(http, live, request_id))["deliver_same_day"]
    assert (delivery["state"], instant(delivery["due_at"]), delivery["late_by_seconds"]) == (
        "breached",
        at(2025, 11, 11),
        9 * 3600,
    )
    assert moved(before, await report(http, live, o2o, "deliver_same_day"))["breached"] == 1


async def test_a_return_after_dispatch_is_refused_with_the_rule_and_the_manual_line(
    http: httpx.AsyncClient, live: Any
) -> None:
    b2c = "zhongan.direct_drug_settlement"
    request_id = await opened(http, live, b2c, at(2025, 11, 10, 9))
    await events(
        http, live, request_id, ("order_paid", at(2025, 11, 10, 10)), ("drug_dispatched", at(2025, 11, 10, 14))
    )
    refused = await send(http, live, request_id, "return_requested", at(2025, 11, 10, 15))
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["rule"] == "customer_window.no_return_after_dispatch"
    assert problem["source"].startswith("[003:L4763]")
    stored = (await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))).json()["events"]
    assert "return_requested" not in {e["type"] for e in stored}


# -- 002:294, 004:277 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", ["axa.zhuoyue.gene_test", "axa.gene_test"])
async def test_a_paper_report_never_sent_is_the_labs_breach_in_view_and_report(
    http: httpx.AsyncClient, live: Any, service: str
) -> None:
    before = await report(http, live, service, "issue_paper_report")
    request_id = await opened(http, live, service, at(2025, 11, 3, 9))
    await events(
        http, live, request_id, ("sample_received", at(2025, 11, 3, 10)), ("report_issued", at(2025, 11, 10, 10))
    )
    clocks = await viewed(http, live, request_id)
    assert clocks["issue_report"]["state"] == "met"
    paper = clocks["issue_paper_report"]
    assert (paper["state"], instant(paper["breached_at"])) == ("breached", at(2025, 11, 25))
    assert moved(before, await report(http, live, service, "issue_paper_report"))["breached"] == 1


# -- 003:L1117, L1121 ---------------------------------------------------------------------------------------
async def test_a_nurse_visit_past_a_year_is_refused_with_the_policy_year_reason_of_l1121(
    http: httpx.AsyncClient, live: Any
) -> None:
    service = "zhongan.home_nursing.critical_illness"
    request_id = await opened(http, live, service, at(2025, 11, 3, 9))
    await events(http, live, request_id, ("patient_discharged", at(2025, 11, 3, 10)))
    refused = await send(
        http,
        live,
        request_id,
        "expert_confirmed",
        at(2025, 11, 4, 10),
        appointment_at="2026-11-05T10:00:00+08:00",
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["rule"] == "customer_window.use_within_one_year_of_discharge"
    assert "L1121" in problem["detail"] and "一个保单年度" in problem["detail"]
