"""The HTTP API end to end: real dev server, real worker, real database, real HTTP (uvicorn + httpx)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session, func, select

from harness.live_stack import LiveStack
from store.models import EventRow, RequestRow
from tests.data import INSURED_JSON, OVERLAY_2027_BODY
from tests.helpers import CST, at, instant, open_request, send


def clock(view: dict[str, Any], clock_id: str) -> dict[str, Any]:
    return next(c for c in view["clocks"] if c["clock_id"] == clock_id)


async def test_open_send_events_met_completed_and_the_audit_pack_replays(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    opened = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat())
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["id"]
    assert opened.headers["Location"] == f"/v1/requests/{request_id}"
    for event, when in [
        ("admission_notice_issued", at(2025, 9, 24)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
        ("materials_complete", at(2025, 9, 26, 15)),  # 004:67: the start needs complete materials
        ("materials_incomplete", at(2025, 9, 30, 10)),
        ("materials_complete", at(2025, 10, 9, 10)),
    ]:
        response = await send(http, live, request_id, event, when)
        assert response.status_code == 200, response.text
    met = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 22, 18))
    admission = clock(met.json(), "arrange_admission")
    # 10 working days from Thu 2025-10-09 (restart): 10-10, 10-11 (Sat), 10-13..17, 10-20..22 -> 10-23 00:00 +08:00
    assert instant(admission["due_at"]) == at(2025, 10, 23)
    assert admission["state"] == "met" and admission["source"] == "[004:67, 90]"
    done = await send(http, live, request_id, "service_completed", at(2025, 10, 23, 9))
    assert done.json()["status"] == "completed"

    async def archived() -> dict[str, Any]:
        for _ in range(100):
            pack = (await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("auditor"))).json()
            if pack["history"] and pack["history"]["origin"] == "archive":
                return pack
            await asyncio.sleep(0.1)
        raise AssertionError("history never archived")

    pack = await archived()
    assert pack["replay"]["verified"] is True, pack["replay"]
    assert pack["history"]["event_count"] > 10 and len(pack["history"]["sha256"]) == 64
    assert pack["terms"]["service"]["clocks"][0]["source"] == "[004:67, 90]"
    assert pack["calendar"]["years"]["2025"].startswith("国务院办公厅关于2025年")
    assert [e["type"] for e in pack["events"]][:3] == [
        "request_opened",
        "admission_notice_issued",
        "eligibility_approved",
    ]
    assert all(e["sender"].startswith("coordinator:vendor-reliable:") for e in pack["events"][1:])
    kinds = [t["kind"] for t in pack["clocks"][0]["timeline"]]
    assert kinds == ["started", "paused", "restarted", "warning", "warning", "stopped"]
    assert [o["outcome"] for o in pack["outcomes"]] == ["met"]
    history = await http.get(f"/v1/requests/{request_id}/history", headers=live.headers("auditor"))
    assert history.status_code == 200
    assert "测试张三" in history.text  # decoded for the auditor; encrypted at rest (see test_workflow)


def countdown_free(view: dict[str, Any]) -> dict[str, Any]:
    """A request's view but the seconds left on its clocks, which count down from the instant of the read."""
    return view | {"clocks": [{k: v for k, v in c.items() if k != "remaining_seconds"} for c in view["clocks"]]}


async def test_each_write_answers_exactly_what_a_get_of_the_request_reads_right_after(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    """Issue 25 item 5: a write answers from its Temporal update's result, not from the read model."""
    opened = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat())
    assert opened.status_code == 201, opened.text
    shown = f"/v1/requests/{opened.json()['id']}"

    async def read() -> dict[str, Any]:
        return countdown_free((await http.get(shown, headers=live.headers("coordinator"))).json())

    assert countdown_free(opened.json()) == await read()
    events = [
        ("admission_notice_issued", at(2025, 9, 24)),
        ("materials_complete", at(2025, 9, 25, 10)),
        ("eligibility_approved", at(2025, 9, 26, 15)),  # the admission clock breaches on 2025-10-17
        ("hospital_confirmed", at(2025, 10, 22, 18)),
        ("hospital_confirmed", at(2025, 10, 22, 18)),  # repeated with its key: recorded once, answered again
        ("service_completed", at(2025, 10, 23, 9)),
    ]
    for event, when in events:
        answer = await send(http, live, opened.json()["id"], event, when, key=f"answer-{event}")
        assert answer.status_code == 200, answer.text
        assert countdown_free(answer.json()) == await read(), event
    assert answer.json()["status"] == "completed" and answer.json()["closed_at"] is not None
    assert len(answer.json()["events"]) == len(events)  # the opening, and the repeat recorded once


async def test_a_breached_clock_reads_breached_and_the_late_stop_says_how_late(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    request_id = (await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat())).json()["id"]
    await send(http, live, request_id, "admission_notice_issued", at(2025, 9, 24))
    await send(http, live, request_id, "materials_complete", at(2025, 9, 25, 10))  # 004:67: needed to start
    breached = await send(http, live, request_id, "eligibility_approved", at(2025, 9, 26, 15))
    admission = clock(breached.json(), "arrange_admission")
    # 10 working days from Fri 2025-09-26: ... -> 2025-10-17 00:00 +08:00 (README.md's example)
    assert admission["state"] == "breached" and instant(admission["breached_at"]) == at(2025, 10, 17)
    late = await send(http, live, request_id, "hospital_confirmed", at(2025, 10, 20, 9))
    assert clock(late.json(), "arrange_admission")["late_by_seconds"] == 3 * 86400 + 9 * 3600
    listed = await http.get("/v1/requests", params={"clock_state": "breached"}, headers=live.headers("operations"))
    assert request_id in [item["id"] for item in listed.json()["items"]]


async def test_opening_twice_with_one_external_ref_returns_the_first_request(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    first, second = await asyncio.gather(
        open_request(http, live, external_ref="CASE-42"), open_request(http, live, external_ref="CASE-42")
    )
    assert {first.status_code, second.status_code} <= {200, 201}
    assert first.json()["id"] == second.json()["id"]
    third = await open_request(http, live, external_ref="CASE-42")
    assert third.status_code == 200 and third.json()["id"] == first.json()["id"]


async def test_an_event_sent_twice_with_one_idempotency_key_is_applied_once(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    request_id = (await open_request(http, live)).json()["id"]
    now = datetime.now(CST)
    one = await send(http, live, request_id, "admission_notice_issued", now, key="evt-1")
    two = await send(http, live, request_id, "admission_notice_issued", now, key="evt-1")
    assert one.status_code == two.status_code == 200
    assert [e["type"] for e in two.json()["events"]] == ["request_opened", "admission_notice_issued"]


async def test_list_filters_and_paginates_by_cursor(http: httpx.AsyncClient, live: LiveStack) -> None:
    for _ in range(3):
        await open_request(http, live, service_id="zhongan.second_opinion.domestic")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"service": "zhongan.second_opinion.domestic", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/v1/requests", params=params, headers=live.headers("coordinator"))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 3
    other = await http.get(
        "/v1/requests", params={"service": "zhongan.second_opinion.domestic"}, headers=live.headers("other_coordinator")
    )
    assert other.json()["items"] == []  # another vendor's key sees none of them


async def test_the_compliance_report_counts_outcomes_as_json_and_csv(http: httpx.AsyncClient, live: LiveStack) -> None:
    report = (
        await http.get(
            "/v1/reports/compliance", params={"vendor": "vendor-reliable"}, headers=live.headers("operations")
        )
    ).json()
    line = next(r for r in report if r["service_id"] == "axa.green_channel.inpatient")
    assert line["met"] >= 1 and line["breached"] >= 1
    assert line["compliance"] == round(line["met"] / (line["met"] + line["breached"]), 4)
    csv = await http.get("/v1/reports/compliance", params={"format": "csv"}, headers=live.headers("admin"))
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("vendor_id,service_id,clock_id,met,breached")


async def test_a_compliance_filter_outside_the_keys_scope_answers_no_lines_on_both_backends(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    """Another vendor's report for a coordinator, another insurer's for an auditor: empty, with and
    without a period (the tally and the outcome paths). PostgreSQL answered 500 to the old "matches
    nobody" value, a NUL character, which its text type refuses."""
    period = {"period_from": "2025-01-01T00:00:00+08:00", "period_to": "2026-01-01T00:00:00+08:00"}
    for role, params in (("coordinator", {"vendor": "vendor-late"}), ("auditor", {"insurer": "zhongan"})):
        for extra in ({}, period, {"format": "csv"}):
            answer = await http.get("/v1/reports/compliance", params=params | extra, headers=live.headers(role))
            assert answer.status_code == 200, (role, extra, answer.text)
            if extra.get("format") == "csv":
                assert answer.text.splitlines()[1:] == []
            else:
                assert answer.json() == []


def overlay_for(year: int) -> dict[str, Any]:
    """Test data for a year the package does not cover: New Year's Day and a week in February off,
    the first Saturday of January worked."""
    first_saturday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 5)
    february = [date(year, 2, d) for d in range(8, 15) if date(year, 2, d).weekday() < 5]
    return {
        "source": {
            "title": f"国务院办公厅关于{year}年部分节假日安排的通知 (test data)",
            "number": f"TEST-{year}",
            "date": f"{year - 1}-11-01",
        },
        "holidays": [d.isoformat() for d in [date(year, 1, 1), *february] if d.weekday() < 5],
        "makeup_workdays": [first_saturday.isoformat()],
    }


async def test_loading_2027_dry_run_first_then_recomputes_provisional_clocks(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    # 40 working days from now reach a year the package does not cover (2027 from December 2026 on):
    # provisional until that year is loaded. The year is derived, so the test holds in any year.
    request_id = (await open_request(http, live, service_id="axa.zhuoyue.japan_medical")).json()["id"]
    view = (await send(http, live, request_id, "materials_complete", datetime.now(CST))).json()
    before = {c["clock_id"]: c for c in view["clocks"]}
    assert before["complete_arrangement"]["provisional"] is True
    year = instant(before["complete_arrangement"]["due_at"]).astimezone(CST).year
    assert year > 2026, "the packaged calendar covers up to 2026"
    overlay = overlay_for(year)
    dry = await http.put(
        f"/v1/calendar/{year}", params={"dry_run": "true"}, json=overlay, headers=live.headers("admin")
    )
    assert dry.status_code == 200, dry.text
    moves = {m["clock_id"]: m for m in dry.json()["moves"] if m["request_id"] == request_id}
    predicted = moves["complete_arrangement"]
    assert predicted["new_provisional"] is False
    assert instant(predicted["old_due_at"]) == instant(before["complete_arrangement"]["due_at"])
    for move in moves.values():  # a deadline at 24:00, and only clocks that reach the loaded year
        new_due = instant(move["new_due_at"]).astimezone(CST)
        assert (new_due.hour, new_due.minute, new_due.second, new_due.microsecond) == (0, 0, 0, 0), move
        assert instant(move["old_due_at"]).astimezone(CST) > datetime(year, 1, 1, tzinfo=CST), move
    unchanged = (await http.get(f"/v1/calendar/{year}", headers=live.headers("admin"))).json()
    assert unchanged["official"] is False  # a dry run changes nothing

    loaded = await http.put(f"/v1/calendar/{year}", json=overlay, headers=live.headers("admin"))
    assert loaded.status_code == 200 and loaded.json()["requests_signalled"] >= 1
    for _ in range(100):
        after = {
            c["clock_id"]: c
            for c in (await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))).json()[
                "clocks"
            ]
        }
        if not after["complete_arrangement"]["provisional"]:
            break
        await asyncio.sleep(0.1)
    for clock_id, clock_after in after.items():  # the load did exactly what the dry run said
        expected = moves[clock_id]["new_due_at"] if clock_id in moves else before[clock_id]["due_at"]
        assert (clock_after["due_at"] and instant(clock_after["due_at"])) == (expected and instant(expected)), clock_id
    pack = (await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("admin"))).json()
    assert any(f"calendar {year} loaded" in r["reason"] for r in pack["recomputes"])
    assert (await http.get(f"/v1/calendar/{year}", headers=live.headers("auditor"))).json()["official"] is True


async def test_calendar_due_answers_the_rule(http: httpx.AsyncClient, live: LiveStack) -> None:
    due = await http.get(
        "/v1/calendar/due",
        params={"start": "2025-09-26T14:00:00+08:00", "working_days": 10},
        headers=live.headers("coordinator"),
    )
    assert instant(due.json()["due_at"]) == at(2025, 10, 17) and due.json()["provisional"] is False


async def test_the_catalog_serves_each_clocks_quote_start_step_and_terms_in_both_languages(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    service = (await http.get("/v1/services/axa.zhuoyue.japan_medical", headers=live.headers("auditor"))).json()
    specialist = next(c for c in service["clocks"] if c["id"] == "assign_specialist")
    assert specialist["in_order"] is True and "rejection_notified" not in specialist["start_all_of"]
    assert "2个工作日" in specialist["quote"].replace(" ", "")
    assert specialist["start_step"]["zh"] and specialist["start_step"]["en"]
    assert specialist["terms"]["zh"] and specialist["terms"]["en"].endswith(".")
    assert all(w["quote"] for w in service["customer_windows"])


# -- who may do what -----------------------------------------------------------------------------
ROLES = ["none", "bad", "coordinator", "other_coordinator", "operations", "auditor", "other_auditor", "admin"]
ALL_READ = dict.fromkeys(ROLES[2:], 200)


def matrix() -> list[tuple[str, str, str, int]]:
    rules: dict[tuple[str, str], dict[str, int]] = {
        ("POST", "/v1/requests"): {
            "coordinator": 201,
            "other_coordinator": 403,
            "operations": 403,
            "auditor": 403,
            "other_auditor": 403,
            "admin": 201,
        },
        ("GET", "/v1/requests/{id}"): ALL_READ | {"other_coordinator": 404, "other_auditor": 404},
        ("GET", "/v1/requests"): ALL_READ,
        ("POST", "/v1/requests/{id}/events"): {
            "coordinator": 200,
            "other_coordinator": 404,
            "operations": 403,
            "auditor": 403,
            "other_auditor": 404,
            "admin": 200,
        },
        ("GET", "/v1/requests/{id}/audit"): ALL_READ
        | {"coordinator": 403, "other_coordinator": 404, "other_auditor": 404},
        ("GET", "/v1/requests/{id}/history"): {
            "coordinator": 403,
            "other_coordinator": 404,
            "operations": 403,
            "auditor": 200,
            "other_auditor": 404,
            "admin": 200,
        },
        ("GET", "/v1/services"): ALL_READ,
        ("GET", "/v1/services/axa.green_channel.inpatient"): ALL_READ,
        ("GET", "/v1/calendar/due?start=2025-09-26T14:00:00%2B08:00&hours=48"): ALL_READ,
        ("GET", "/v1/calendar/2026"): ALL_READ,
        ("PUT", "/v1/calendar/2031?dry_run=true"): dict.fromkeys(ROLES[2:], 403) | {"admin": 200},
        ("GET", "/v1/reports/compliance"): ALL_READ,
    }
    cases = []
    for (method, path), allowed in rules.items():
        for role in ROLES:
            expected = 401 if role in ("none", "bad") else allowed[role]
            cases.append((method, path, role, expected))
    return cases


@pytest_asyncio.fixture(scope="module")
async def matrix_request(http: httpx.AsyncClient, live: LiveStack) -> str:
    response = await open_request(http, live)
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("method", "path", "role", "expected"),
    matrix(),
    ids=lambda v: str(v).replace("/", "_") if isinstance(v, str) else str(v),
)
async def test_every_role_gets_the_expected_status_on_every_route(
    http: httpx.AsyncClient, live: LiveStack, matrix_request: str, method: str, path: str, role: str, expected: int
) -> None:
    special = {"none": {}, "bad": {"Authorization": "Bearer sk_000000000000_not-a-real-key"}}
    headers = special[role] if role in special else live.headers(role)
    url = path.replace("{id}", matrix_request)
    body: dict[str, Any] | None = None
    if method == "POST" and url == "/v1/requests":
        body = {
            "service_id": "axa.green_channel.inpatient",
            "vendor_id": "vendor-reliable",
            "policy_no": "P-0002",
            "insured": INSURED_JSON,
        }
    elif url.endswith("/events"):
        headers = headers | {"Idempotency-Key": "matrix-event"}
        body = {"type": "admission_notice_issued", "occurred_at": "2026-11-01T09:00:00+08:00"}
    elif method == "PUT":
        body = OVERLAY_2027_BODY | {"holidays": ["2031-01-01"], "makeup_workdays": []}
    response = await http.request(method, url, json=body, headers=headers)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"


# -- bad input: 4xx, never 5xx, nothing written ----------------------------------------------------
def counts(live: LiveStack) -> tuple[int, int]:
    with Session(live.engine) as session:
        return (
            session.exec(select(func.count()).select_from(RequestRow)).one(),
            session.exec(select(func.count()).select_from(EventRow)).one(),
        )


BAD_OPENS = [
    ({"service_id": "axa.no_such_service"}, 422, "catalog.unknown_service"),
    ({"vendor_id": "vendor-unknown"}, 403, None),  # a coordinator may only open for its own vendor
    ({"opened_at": "2025-09-26T14:00:00"}, 422, None),  # naive: no offset
    ({"opened_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, 422, "request.opened_in_future"),
    ({"insured": {"name": "张三", "id_number": 12}}, 422, None),
    ({"policy_no": ["not", "a", "string"]}, 422, None),
    ({"surprise": True}, 422, None),
]


@pytest.mark.parametrize(("change", "status", "rule"), BAD_OPENS)
async def test_bad_requests_are_4xx_and_write_nothing(
    http: httpx.AsyncClient, live: LiveStack, change: dict[str, Any], status: int, rule: str | None
) -> None:
    before = counts(live)
    response = await open_request(http, live, **change)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if rule:
        assert response.json()["rule"] == rule
    assert counts(live) == before


async def test_an_unknown_vendor_is_refused_for_an_admin_too(http: httpx.AsyncClient, live: LiveStack) -> None:
    response = await open_request(http, live, role="admin", vendor_id="vendor-unknown")
    assert response.status_code == 422 and response.json()["rule"] == "vendor.unknown"


async def test_bad_events_are_4xx_with_the_rule_and_write_nothing(
    http: httpx.AsyncClient, live: LiveStack, matrix_request: str
) -> None:
    now = datetime.now(CST)
    cases = [
        ({"type": "hospital_booked", "occurred_at": now.isoformat()}, 422, "event.unknown"),
        ({"type": "report_issued", "occurred_at": now.isoformat()}, 422, "event.not_accepted_by_service"),
        (
            {"type": "hospital_confirmed", "occurred_at": (now + timedelta(days=1)).isoformat()},
            422,
            "event.occurred_in_future",
        ),
        ({"type": "hospital_confirmed", "occurred_at": "2026-11-01T09:00:00"}, 422, None),  # naive
        ({"type": "hospital_confirmed", "occurred_at": "yesterday"}, 422, None),
        ({"type": 7, "occurred_at": now.isoformat()}, 422, None),
    ]
    for body, status, rule in cases:
        before = counts(live)
        response = await http.post(
            f"/v1/requests/{matrix_request}/events", json=body, headers=live.headers("coordinator")
        )
        assert response.status_code == status, (body, response.text)
        if rule:
            assert response.json()["rule"] == rule
        assert counts(live) == before


async def test_a_2_mb_body_is_refused(http: httpx.AsyncClient, live: LiveStack) -> None:
    before = counts(live)
    big = {
        "service_id": "axa.green_channel.inpatient",
        "vendor_id": "vendor-reliable",
        "policy_no": "P-1",
        "insured": {"name": "x" * (2 * 1024 * 1024), "id_number": "110101199003071234"},
    }
    response = await http.post("/v1/requests", json=big, headers=live.headers("coordinator"))
    assert response.status_code == 413 and counts(live) == before


@pytest.mark.parametrize("value", ["' OR 1=1 --", "x; DROP TABLE request", "%27%20OR%201%3D1"])
async def test_sql_like_filters_are_rejected_not_executed(http: httpx.AsyncClient, live: LiveStack, value: str) -> None:
    for name in ("vendor", "insurer", "service"):
        response = await http.get("/v1/requests", params={name: value}, headers=live.headers("operations"))
        assert response.status_code == 422, response.text


async def test_an_event_for_another_vendors_request_is_not_found(
    http: httpx.AsyncClient, live: LiveStack, matrix_request: str
) -> None:
    before = counts(live)
    response = await send(http, live, matrix_request, "hospital_confirmed", datetime.now(CST), role="other_coordinator")
    assert response.status_code == 404 and counts(live) == before


# -- Temporal down and back ------------------------------------------------------------------------
async def test_temporal_stopped_is_503_and_the_same_call_succeeds_once_it_is_back(
    http: httpx.AsyncClient, live: LiveStack, matrix_request: str
) -> None:
    live.temporal.stop()
    try:
        before = counts(live)
        down = await open_request(http, live, external_ref="WHILE-DOWN")
        assert down.status_code == 503 and down.headers["Retry-After"]
        event = await send(http, live, matrix_request, "eligibility_approved", datetime.now(CST), key="while-down")
        assert event.status_code == 503
        assert counts(live) == before
        readiness = await http.get("/readyz")
        assert readiness.status_code == 503
        assert (
            await http.get(f"/v1/requests/{matrix_request}", headers=live.headers("coordinator"))
        ).status_code == 200
    finally:
        live.temporal.start()
    for _ in range(50):  # the client reconnects on its own
        retried = await open_request(http, live, external_ref="WHILE-DOWN")
        if retried.status_code != 503:
            break
        await asyncio.sleep(0.5)
    assert retried.status_code == 201, retried.text
    event = await send(http, live, matrix_request, "eligibility_approved", datetime.now(CST), key="while-down")
    assert event.status_code == 200
    assert [e["type"] for e in event.json()["events"]].count("eligibility_approved") == 1
