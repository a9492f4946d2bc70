"""Moving a request over from a spreadsheet: POST /v1/requests with its past events records the
outcomes they imply in the first plan, with no breach recorded and then corrected; a bad past event
refuses the whole opening, naming it, and opens nothing. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import Session, func, select

from store.models import RequestRow
from tests.helpers import at, instant, open_request, send

# AXA inpatient green channel [004:67]: 10 working days from the latest of approval, complete
# materials and the admission notice (9-26 15:00) -> due 2025-10-17 00:00; confirmed 10-16 18:00: met.
PAST = [
    ("admission_notice_issued", at(2025, 9, 24)),
    ("materials_complete", at(2025, 9, 25, 10)),
    ("eligibility_approved", at(2025, 9, 26, 15)),
    ("hospital_confirmed", at(2025, 10, 16, 18)),
]


def _arrange(view: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in view["clocks"] if c["clock_id"] == "arrange_admission")


async def test_a_request_opened_with_its_past_events_is_met_with_no_correction(
    http: httpx.AsyncClient, live: Any
) -> None:
    events = [{"type": kind, "occurred_at": when.isoformat()} for kind, when in PAST]
    opened = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat(), events=events)
    assert opened.status_code == 201, opened.text
    view = opened.json()
    arrange = _arrange(view)
    assert arrange["state"] == "met" and instant(arrange["due_at"]) == at(2025, 10, 17)
    assert [e["seq"] for e in view["events"]] == [1, 2, 3, 4, 5]
    pack = (await http.get(f"/v1/requests/{view['id']}/audit", headers=live.headers("auditor"))).json()
    assert pack["corrections"] == []
    assert [(o["clock_id"], o["outcome"]) for o in pack["outcomes"] if o["clock_id"] == "arrange_admission"] == [
        ("arrange_admission", "met")
    ]


async def test_the_same_events_sent_one_by_one_breach_first_and_are_corrected(
    http: httpx.AsyncClient, live: Any
) -> None:
    # Without the backfill, the clock starts with the approval (due 10-17, long past) and is recorded
    # breached; the confirmation then turns it met, which is recorded as a correction.
    request_id = (await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat())).json()["id"]
    for kind, when in PAST:
        assert (await send(http, live, request_id, kind, when)).status_code == 200
    pack = (await http.get(f"/v1/requests/{request_id}/audit", headers=live.headers("auditor"))).json()
    assert [(c["clock_id"], c["previous"], c["current"]) for c in pack["corrections"]] == [
        ("arrange_admission", "breached", "met")
    ]


def _count(live: Any) -> int:
    with Session(live.engine) as session:
        return session.exec(select(func.count()).select_from(RequestRow)).one()


async def test_a_bad_past_event_refuses_the_opening_naming_it_and_opens_nothing(
    http: httpx.AsyncClient, live: Any
) -> None:
    before = _count(live)
    not_accepted = [
        {"type": "materials_complete", "occurred_at": at(2025, 9, 25, 10).isoformat()},
        {"type": "drug_delivered", "occurred_at": at(2025, 9, 26).isoformat()},
    ]
    refused = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat(), events=not_accepted)
    assert refused.status_code == 422 and "events[1]" in refused.json()["detail"], refused.text
    assert refused.json()["rule"] == "event.not_accepted_by_service"
    after_close = [
        {"type": "customer_cancelled", "occurred_at": at(2025, 9, 26).isoformat()},
        {"type": "materials_complete", "occurred_at": at(2025, 9, 27).isoformat()},
    ]
    closed = await open_request(http, live, opened_at=at(2025, 9, 25, 9).isoformat(), events=after_close)
    assert closed.status_code == 409 and closed.json()["rule"] == "event.request_closed", closed.text
    assert _count(live) == before
