"""Issue 24, item 2: a vendor cannot erase its own breach. Over HTTP on a stack with the review on
(the production default), on SQLite and PostgreSQL: an event dated before the opening is refused; a
stop dated before the due instant of a recorded breach is held for the insurer, the breach standing in
the view's clock, /metrics and the compliance report until the insurer's auditor accepts it; rejected,
it never counts; either way the audit pack keeps it with who decided and when."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from harness.live_stack import LiveStack
from tests.helpers import at, open_request, send

INPATIENT = "axa.green_channel.inpatient"
CLOCK = "arrange_admission"


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgresql"])
async def reviewed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    database_url = request.getfixturevalue("postgres").new_database("review") if request.param == "postgresql" else None
    stack = await LiveStack.start(
        Path(tmp_path_factory.mktemp("review")), database_url, review_corrections=True, late_event_review_working_days=2
    )
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        yield stack, http
    await stack.stop()


def outcomes(metrics: str) -> dict[str, float]:
    found = {}
    for outcome in ("met", "breached"):
        pattern = rf'^sla_clock_outcomes_total\{{[^}}]*clock="{CLOCK}"[^}}]*outcome="{outcome}"[^}}]*\}} (\S+)'
        found[outcome] = sum(float(v) for v in re.findall(pattern, metrics, re.M))
    return found


async def counted(live: LiveStack, http: httpx.AsyncClient) -> tuple[dict[str, float], dict[str, int]]:
    """(outcomes in /metrics, met and breached of the compliance report) for the admission clock."""
    metrics = outcomes((await http.get("/metrics", headers=live.metrics_headers())).text)
    report = (await http.get("/v1/reports/compliance", headers=live.headers("operations"))).json()
    lines = [r for r in report if r["service_id"] == INPATIENT and r["clock_id"] == CLOCK]
    return metrics, {k: sum(r[k] for r in lines) for k in ("met", "breached")}


async def breached_request(live: LiveStack, http: httpx.AsyncClient) -> str:
    """Opened 2025-09-25, started 09-26 15:00, due 10-17 00:00: breached as soon as it is planned today."""
    opened = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat())
    assert opened.status_code == 201, opened.text
    request_id: str = opened.json()["id"]
    for event, when in [
        ("admission_notice_issued", at(2025, 9, 24)),  # a hospital's notice precedes the request by nature
        ("materials_complete", at(2025, 9, 25, 10)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
    ]:
        answer = await send(http, live, request_id, event, when)
        assert answer.status_code == 200, answer.text
    clock = next(c for c in answer.json()["clocks"] if c["clock_id"] == CLOCK)
    assert clock["state"] == "breached", clock
    return request_id


async def test_an_event_dated_ten_years_before_the_opening_is_refused_with_rule_and_source(reviewed: Any) -> None:
    live, http = reviewed
    request_id = await breached_request(live, http)
    answer = await send(http, live, request_id, "hospital_confirmed", at(2015, 9, 25, 9))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["rule"] == "event.before_opening"
    assert problem["source"].startswith("sla/engine/review.py")
    view = (await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))).json()
    assert [e["type"] for e in view["events"]][-1] == "eligibility_approved"  # nothing recorded


async def test_a_stop_dated_before_the_due_of_a_recorded_breach_waits_for_the_insurer_and_the_breach_stands(
    reviewed: Any,
) -> None:
    live, http = reviewed
    request_id = await breached_request(live, http)
    before = await counted(live, http)
    held = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 16, 18))
    assert held.status_code == 200, held.text
    view = held.json()
    [review] = view["correction_reviews"]
    assert (review["status"], review["rule"], review["event_type"]) == (
        "pending",
        "correction.reverses_breach",
        "hospital_confirmed",
    )
    assert review["changes"] == [{"clock_id": CLOCK, "instance": 1, "current": "breached", "proposed": "met"}]
    assert next(c for c in view["clocks"] if c["clock_id"] == CLOCK)["state"] == "breached"
    assert "hospital_confirmed" not in [e["type"] for e in view["events"]]
    assert await counted(live, http) == before  # metrics and the report still count the breach

    path = f"/v1/requests/{request_id}/corrections/{review['correction_id']}"
    refused = await http.post(f"{path}/accept", headers=live.headers("coordinator"))
    assert refused.status_code == 403 and refused.json()["rule"] == "correction.insurer_decides"
    accepted = await http.post(f"{path}/accept", json={"note": "hospital letter seen"}, headers=live.headers("auditor"))
    assert accepted.status_code == 200, accepted.text
    assert next(c for c in accepted.json()["clocks"] if c["clock_id"] == CLOCK)["state"] == "met"
    (metrics_before, report_before), (metrics_after, report_after) = before, await counted(live, http)
    assert metrics_after == {"met": metrics_before["met"] + 1, "breached": metrics_before["breached"] - 1}
    assert report_after == {"met": report_before["met"] + 1, "breached": report_before["breached"] - 1}
    again = await http.post(f"{path}/reject", headers=live.headers("admin"))
    assert again.status_code == 409 and again.json()["rule"] == "correction.not_pending"

    pack = (await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("auditor"))).json()
    [audited] = pack["correction_reviews"]
    assert audited["status"] == "accepted" and audited["decided_by"].startswith("auditor:axa_tianping:")
    assert audited["decided_at"] and audited["note"] == "hospital letter seen"
    assert any(c["clock_id"] == CLOCK and c["previous"] == "breached" for c in pack["corrections"])


async def test_a_rejected_correction_never_counts_and_stays_in_the_audit_trail(reviewed: Any) -> None:
    live, http = reviewed
    request_id = await breached_request(live, http)
    held = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 16, 18))
    [review] = held.json()["correction_reviews"]
    before = await counted(live, http)
    path = f"/v1/requests/{request_id}/corrections/{review['correction_id']}"
    rejected = await http.post(f"{path}/reject", headers=live.headers("admin"))
    assert rejected.status_code == 200, rejected.text
    assert next(c for c in rejected.json()["clocks"] if c["clock_id"] == CLOCK)["state"] == "breached"
    assert await counted(live, http) == before
    pack = (await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("auditor"))).json()
    [audited] = pack["correction_reviews"]
    assert audited["status"] == "rejected" and audited["decided_by"].startswith("admin:")
    # the stop recorded as late as it really is counts at once: the breach stays a breach
    late = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 20, 9))
    assert late.status_code == 200 and len(late.json()["correction_reviews"]) == 1
    assert next(c for c in late.json()["clocks"] if c["clock_id"] == CLOCK)["state"] == "breached"


async def test_only_an_admin_moves_over_events_dated_before_the_opening(reviewed: Any) -> None:
    live, http = reviewed
    events = [{"type": "materials_complete", "occurred_at": at(2025, 9, 20, 10).isoformat()}]
    refused = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat(), events=events)
    assert refused.status_code == 422 and refused.json()["rule"] == "event.before_opening", refused.text
    moved = await open_request(http, live, "admin", opened_at=at(2025, 9, 25, 9).isoformat(), events=events)
    assert moved.status_code == 201, moved.text


async def signed_in_page(live: LiveStack, role: str) -> httpx.AsyncClient:
    """A browser-like client signed in on the login form with `role`'s key (the session cookie kept)."""
    browser = httpx.AsyncClient(base_url=live.base_url, timeout=30)
    form = await browser.get("/login?next=/requests")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    key = live.headers(role)["Authorization"].removeprefix("Bearer ")
    signed = await browser.post("/login", data={"key": key, "csrf": csrf.group(1), "next": "/requests"})
    assert signed.status_code == 303, signed.text
    return browser


async def test_the_audit_page_shows_a_held_correction_and_the_insurers_auditor_accepts_it_there(reviewed: Any) -> None:
    live, http = reviewed
    request_id = await breached_request(live, http)
    held = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 16, 18))
    [review] = held.json()["correction_reviews"]
    decide = f"/requests/{request_id}/corrections/{review['correction_id']}"

    vendor = await signed_in_page(live, "coordinator")
    page = (await vendor.get(f"/requests/{request_id}")).text
    assert "待确认 pending" in page and "correction.reverses_breach" in page and "breached → met" in page
    assert f'action="{decide}/accept"' not in page  # the vendor sees its correction, never a button
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    refused = await vendor.post(f"{decide}/accept", data={"csrf": csrf.group(1)})
    assert refused.status_code == 403 and "correction" in refused.text
    await vendor.aclose()

    insurer = await signed_in_page(live, "auditor")
    page = (await insurer.get(f"/requests/{request_id}")).text
    assert f'action="{decide}/accept"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    forged = await insurer.post(f"{decide}/accept", data={"csrf": "not-the-token"})
    assert forged.status_code == 403
    accepted = await insurer.post(f"{decide}/accept", data={"csrf": csrf.group(1), "note": "discharge letter <seen>"})
    assert accepted.status_code == 303 and accepted.headers["location"] == f"/requests/{request_id}#corrections"
    page = (await insurer.get(f"/requests/{request_id}")).text
    assert "已接受 accepted" in page and "discharge letter &lt;seen&gt;" in page
    await insurer.aclose()
    view = (await http.get(f"/v1/requests/{request_id}", headers=live.headers("auditor"))).json()
    assert next(c for c in view["clocks"] if c["clock_id"] == CLOCK)["state"] == "met"
