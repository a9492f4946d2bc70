"""One (vendor, external_ref) names one request and no other pair names it, ':' included; an already-open
request keeps the id the old derivation gave it; a note holding an ID or phone number answers 422."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from api.commands import EXTERNAL_REF_NAMESPACE, _request_id_for, request_id_for
from harness.live_stack import LiveStack
from store.models import RequestRow, VendorRow
from tests.helpers import open_request, send


def _vendors(engine: Engine, *vendor_ids: str) -> None:
    with Session(engine) as session:
        for vendor_id in vendor_ids:
            session.add(VendorRow(id=vendor_id, name=vendor_id))
        session.commit()


async def test_pairs_that_join_to_the_same_text_with_a_colon_open_two_requests_each_of_its_own_vendor(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    tag = uuid.uuid4().hex[:6]
    _vendors(live.engine, f"v{tag}", f"v{tag}:east")
    # "v…:east" + "r:1" and "v…" + "east:r:1" both joined to "v…:east:r:1": one id, another vendor's request
    first = await open_request(http, live, "admin", vendor_id=f"v{tag}:east", external_ref="r:1")
    second = await open_request(http, live, "admin", vendor_id=f"v{tag}", external_ref="east:r:1")
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert (first.json()["vendor_id"], second.json()["vendor_id"]) == (f"v{tag}:east", f"v{tag}")
    again = await open_request(http, live, "admin", vendor_id=f"v{tag}", external_ref="east:r:1")
    assert (again.status_code, again.json()["id"]) == (200, second.json()["id"])


def test_a_pair_without_a_colon_keeps_its_id_and_an_open_request_keeps_the_id_it_was_given(engine: Engine) -> None:
    assert (
        request_id_for("vendor-reliable", "claim-42")
        == uuid.uuid5(EXTERNAL_REF_NAMESPACE, "vendor-reliable:claim-42").hex
    )
    legacy = uuid.uuid5(EXTERNAL_REF_NAMESPACE, "acme:east:r1").hex
    now = datetime.now(UTC)
    with Session(engine) as session:  # opened before the change, as ("acme:east", "r1")
        session.add(
            RequestRow(
                id=legacy,
                service_id="axa.green_channel.inpatient",
                catalog_version=1,
                catalog_digest="d",
                insurer_id="axa_tianping",
                vendor_id="acme:east",
                external_ref="r1",
                status="open",
                opened_at=now,
                revision=1,
                calendar_fingerprint="f",
                updated_at=now,
            )
        )
        session.commit()
    with engine.connect() as connection:
        assert _request_id_for(connection, "acme:east", "r1") == legacy  # a retried open finds it
        # the pair that collided with it gets an id of its own
        assert _request_id_for(connection, "acme", "east:r1") == request_id_for("acme", "east:r1") != legacy


async def test_a_note_holding_a_resident_id_or_mobile_number_answers_422_naming_the_rule(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    opened = await open_request(http, live, "coordinator")
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["id"]
    now = datetime.now(UTC)
    for note in ("insured 11010519491231002X called back", "请回电 138-0013-8000"):
        answer = await send(http, live, request_id, "materials_incomplete", now, note=note)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["rule"] == "event.note_personal_data" and problem["source"] == "sla/personal_data.py"
        assert "stored in clear" in problem["detail"] and "0013" not in answer.text and "1949" not in answer.text
    fine = await send(http, live, request_id, "materials_incomplete", now, note="customer called back at 14:00")
    assert fine.status_code == 200, fine.text
    refused_open = await open_request(
        http,
        live,
        "coordinator",
        events=[{"type": "materials_incomplete", "occurred_at": now.isoformat(), "data": {"note": "tel 13912345678"}}],
    )
    assert refused_open.status_code == 422 and refused_open.json()["rule"] == "event.note_personal_data"
