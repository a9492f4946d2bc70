"""Idempotency-Key over HTTP, on SQLite and PostgreSQL: the same key and body is applied once and
answers the same; the same key with another body is refused with 409 event.idempotency_key_reused,
sent one after the other or at once; a call without a key gets one back to retry with."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from sla.calendar.timeutil import SHANGHAI
from tests.helpers import open_request

SERVICE = "pingan_health.green_channel.admission"  # accepts follow_up_done any number of times


def _event(when: datetime, note: str) -> dict[str, Any]:
    return {"type": "follow_up_done", "occurred_at": when.isoformat(), "data": {"note": note}}


async def _stored_events(http: httpx.AsyncClient, live: Any, request_id: str) -> list[dict[str, Any]]:
    view = (await http.get(f"/v1/requests/{request_id}", headers=live.headers("coordinator"))).json()
    return [e for e in view["events"] if e["type"] == "follow_up_done"]


async def test_the_same_key_with_another_body_is_refused_and_the_first_event_stands(
    http: httpx.AsyncClient, live: Any
) -> None:
    request_id = (await open_request(http, live, service_id=SERVICE)).json()["id"]
    headers = live.headers("coordinator") | {"Idempotency-Key": "idem-sequential"}
    now = datetime.now(SHANGHAI)
    first = await http.post(f"/v1/requests/{request_id}/events", json=_event(now, "first"), headers=headers)
    again = await http.post(f"/v1/requests/{request_id}/events", json=_event(now, "first"), headers=headers)
    other = await http.post(f"/v1/requests/{request_id}/events", json=_event(now, "second"), headers=headers)
    assert first.status_code == again.status_code == 200
    assert other.status_code == 409, other.text
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["rule"] == "event.idempotency_key_reused"
    assert [e["data"] for e in await _stored_events(http, live, request_id)] == [{"note": "first"}]


async def test_one_key_sent_at_once_with_different_bodies_records_exactly_one(
    http: httpx.AsyncClient, live: Any
) -> None:
    request_id = (await open_request(http, live, service_id=SERVICE)).json()["id"]
    headers = live.headers("coordinator") | {"Idempotency-Key": "idem-concurrent"}
    now = datetime.now(SHANGHAI)
    bodies = [_event(now, f"body-{i % 3}") for i in range(12)]  # three bodies, four copies each
    answers = await asyncio.gather(
        *(http.post(f"/v1/requests/{request_id}/events", json=b, headers=headers) for b in bodies)
    )
    [stored] = await _stored_events(http, live, request_id)
    for body, answer in zip(bodies, answers, strict=True):
        if body["data"] == stored["data"]:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 409 and answer.json()["rule"] == "event.idempotency_key_reused"


async def test_a_call_without_a_key_gets_one_back_that_repeats_it_safely(http: httpx.AsyncClient, live: Any) -> None:
    request_id = (await open_request(http, live, service_id=SERVICE)).json()["id"]
    body = _event(datetime.now(SHANGHAI), "unkeyed")
    first = await http.post(f"/v1/requests/{request_id}/events", json=body, headers=live.headers("coordinator"))
    key = first.headers["Idempotency-Key"]
    retry = await http.post(
        f"/v1/requests/{request_id}/events", json=body, headers=live.headers("coordinator") | {"Idempotency-Key": key}
    )
    assert first.status_code == retry.status_code == 200
    assert len(await _stored_events(http, live, request_id)) == 1
