"""Vendor webhooks: signed Standard Webhooks deliveries started by the request workflow, retried,
deduplicable, logged; a dead receiver never delays the workflow or another vendor.

On the time-skipping server (the workflow's instants and its history) and over HTTP on the live
stack, SQLite and PostgreSQL (registration, real-time latency, the delivery log)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.notify import message_body, message_id, sign
from harness.keys import TEST_KEYS
from harness.live_stack import LiveStack
from harness.servers import free_port, start_time_skipping
from runtime.codec import EncryptionCodec, unseal_text
from runtime.settings import Settings
from sla.notifications import WebhookEvent
from store import webhooks
from store.keys import Role, create_key
from store.models import ClockOutcomeRow, VendorRow, WebhookRow
from tests.data import HISTORIES
from tests.helpers import CST, eventually, finish, open_workflow, rows, send_update
from tests.webhook_receiver import receiving, verify
from worker.build import build_worker
from workflows.messages import Notification, NotifyInput

OUTPATIENT = "pingan_health.green_channel.outpatient"  # inform_status: 48 h from the opening, warnings at 50 % and 80 %
ALL_EVENTS = ["clock.at_risk", "clock.breached", "clock.met", "outcome.corrected", "request.closed"]
HOUR = timedelta(hours=1)


def test_a_signature_verifies_with_the_standard_webhooks_algorithm_and_a_changed_byte_fails() -> None:
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    body = '{"type":"clock.breached","timestamp":"2025-10-23T00:00:00+08:00","data":{}}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(secret, headers, body.encode())
    assert not verify(secret, headers, body.replace("breached", "met").encode())
    assert not verify(webhooks.new_secret(), headers, body.encode())
    assert not verify(secret, headers | {"webhook-timestamp": str(now - 600)}, body.encode())  # a replay, too old
    rotated = headers | {"webhook-signature": f"v1,AAAA {headers['webhook-signature']}"}  # a list: one must match
    assert verify(secret, rotated, body.encode())


def _notification(
    kind: str, at: datetime, state: str, clock_id: str, instance: int, cycle: int, **more: Any
) -> Notification:
    """A clock's notification, due at `at` (Notification is built with keywords only)."""
    return Notification(
        kind=WebhookEvent(kind),
        at=at,
        state=state,
        clock_id=clock_id,
        instance=instance,
        cycle=cycle,
        due_at=at,
        **more,
    )


def test_a_message_id_is_stable_and_differs_per_clock_instance_cycle_kind_and_threshold() -> None:
    at = datetime(2025, 10, 1, tzinfo=CST)
    base = _notification("clock.at_risk", at, "running", "inform_status", 1, 1, threshold=0.5)
    same = _notification("clock.at_risk", at + HOUR, "running", "inform_status", 1, 1, threshold=0.5)
    assert message_id("r1", base) == message_id("r1", same)  # what identifies it, not when it was seen
    variants = [
        _notification("clock.at_risk", at, "running", "inform_status", 1, 1, threshold=0.8),
        _notification("clock.at_risk", at, "running", "inform_status", 2, 1, threshold=0.5),
        _notification("clock.at_risk", at, "running", "inform_status", 1, 2, threshold=0.5),
        _notification("clock.breached", at, "breached", "inform_status", 1, 1),
        _notification("clock.at_risk", at, "running", "arrange_outpatient", 1, 1, threshold=0.5),
    ]
    ids = {message_id("r1", base), message_id("r2", base), *(message_id("r1", v) for v in variants)}
    assert len(ids) == 7 and all(i.startswith("msg_") and "." not in i for i in ids)


def test_a_body_carries_no_personal_data_and_instants_in_plus_eight() -> None:
    at = datetime(2025, 10, 22, 16, tzinfo=UTC)
    notify = NotifyInput("r1", OUTPATIENT, "vendor-a", [])
    body = message_body(notify, _notification("clock.breached", at, "breached", "inform_status", 1, 1), "http://x")
    assert body == (
        '{"type":"clock.breached","timestamp":"2025-10-23T00:00:00+08:00","data":{"request_id":"r1",'
        '"service_id":"pingan_health.green_channel.outpatient","vendor_id":"vendor-a","clock_id":"inform_status",'
        '"instance":1,"cycle":1,"due_at":"2025-10-23T00:00:00+08:00","state":"breached",'
        '"link":"http://x/v1/requests/r1"}}'
    )


# -- the workflow on the time-skipping server ------------------------------------------------------
@pytest_asyncio.fixture
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own: deliveries still retrying when a test ends (on purpose: they
    retry for 24 h) must not hold the shared server's time skipping for the tests after it."""
    environment = await start_time_skipping()
    try:
        yield environment
    finally:
        await environment.shutdown()


def _vendor(engine: Engine, vendor_id: str) -> None:
    with Session(engine) as session:
        session.add(VendorRow(id=vendor_id, name=vendor_id))
        session.commit()


async def _markers(handle: Any) -> dict[str, int]:
    history = await handle.fetch_history()
    counts: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            name = event.marker_recorded_event_attributes.marker_name
            counts[name] = counts.get(name, 0) + 1
    counts["events"] = len(history.events)
    counts["upserts"] = sum(
        e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES for e in history.events
    )
    return counts


async def test_every_kind_is_delivered_signed_at_its_instant_and_costs_one_history_event(
    own_env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    env = own_env
    _vendor(engine, "vendor-reliable")
    codec = EncryptionCodec(TEST_KEYS)
    with receiving() as receiver:
        hook, secret = webhooks.create_webhook(engine, codec, "vendor-reliable", receiver.url("/hook"), ALL_EVENTS, "t")
        receiver.secrets["/hook"] = secret
        [stored] = rows(engine, WebhookRow, id=hook.id)
        assert secret not in str(stored.sealed_secret) and unseal_text(codec, stored.sealed_secret) == secret
        async with build_worker(env.client, settings, engine):
            opened = (await env.get_current_time()).astimezone(CST)
            handle = await open_workflow(env.client, settings.task_queue, OUTPATIENT, opened)
            request_id = handle.id.removeprefix("request-")

            async def kinds() -> list[tuple[str, Any]]:
                got = [(r.body["type"], r.body["data"].get("threshold")) for r in receiver.of("/hook")]
                return sorted(got, key=str)

            await env.sleep(24 * HOUR + timedelta(minutes=1))  # 50 % of 48 h
            [half] = await eventually(lambda: receiver.of("/hook", "clock.at_risk"))
            assert half.body["timestamp"] == (opened + 24 * HOUR).isoformat()
            assert half.body["data"]["threshold"] == 0.5 and half.body["data"]["state"] == "running"
            await env.sleep(15 * HOUR)  # 80 % at 38.4 h
            await eventually(lambda: len(receiver.of("/hook", "clock.at_risk")) == 2)
            await env.sleep(10 * HOUR)  # due at 48 h
            [breach] = await eventually(lambda: receiver.of("/hook", "clock.breached"))
            assert breach.body["timestamp"] == breach.body["data"]["due_at"] == (opened + 48 * HOUR).isoformat()
            # the workflow recorded the breach at due, and the delivery was started in that same change
            [outcome] = rows(engine, ClockOutcomeRow, request_id=request_id, clock_id="inform_status")
            assert outcome.outcome_at == opened + 48 * HOUR
            # a retroactive status call before the due corrects the breach; then the booking; then done
            await send_update(handle, "customer_confirmed", opened + 47 * HOUR)
            now = await env.get_current_time()
            await send_update(handle, "expert_confirmed", now)
            await send_update(handle, "service_completed", now)
            await finish(env, handle)
            await eventually(lambda: receiver.of("/hook", "request.closed"))
            await eventually(lambda: receiver.of("/hook", "clock.met"))
        assert await kinds() == sorted(
            [
                ("clock.at_risk", 0.5),
                ("clock.at_risk", 0.8),
                ("clock.breached", None),
                ("outcome.corrected", None),
                ("clock.met", None),
                ("request.closed", None),
            ],
            key=str,
        )
        assert all(r.signature_ok for r in receiver.requests) and len(receiver.requests) == 6
        corrected = receiver.of("/hook", "outcome.corrected")[0].body["data"]
        assert (corrected["clock_id"], corrected["previous"], corrected["state"]) == (
            "inform_status",
            "breached",
            "met",
        )
        met = receiver.of("/hook", "clock.met")[0].body["data"]
        assert met["clock_id"] == "arrange_outpatient"
        closed = receiver.of("/hook", "request.closed")[0].body
        assert closed["data"]["state"] == "completed" and closed["data"]["clock_id"] is None
        for record in receiver.requests:
            assert record.body["data"]["request_id"] == request_id
            assert "POLICY" not in str(record.body) and "测试" not in str(record.body)
    markers = await _markers(handle)
    # advance_request ran 7 times (open, 3 timers, 3 events); notify_vendor once per notifying change
    # (2 warnings, the breach, the correction, the booking, the close): one event each, in the same
    # workflow task. Once per run: the patch marker and its TemporalChangeVersion search attribute.
    assert (markers["core_local_activity"], markers["core_patch"], markers["upserts"]) == (7 + 6, 1, 1)
    assert markers["events"] == 50 + 6 + 2


# -- over HTTP on the live stack (SQLite and PostgreSQL) ---------------------------------------------
def _new_vendor(live: LiveStack, label: str) -> str:
    vendor_id = f"vendor-{label}-{uuid.uuid4().hex[:6]}"
    _vendor(live.engine, vendor_id)
    return vendor_id


async def _register(
    http: httpx.AsyncClient, live: LiveStack, vendor_id: str, url: str, events: list[str]
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/vendors/{vendor_id}/webhooks", json={"url": url, "events": events}, headers=live.headers("admin")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _open_backdated(http: httpx.AsyncClient, live: LiveStack, vendor_id: str, opened_at: datetime) -> str:
    body = {
        "service_id": OUTPATIENT,
        "vendor_id": vendor_id,
        "policy_no": "P-WEBHOOK-1",
        "insured": {"name": "测试李四", "id_number": "110101199003071234"},
        "opened_at": opened_at.isoformat(),
    }
    response = await http.post("/v1/requests", json=body, headers=live.headers("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_register_list_and_delete_a_webhook_and_its_secret_is_shown_once_and_sealed(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    vendor_id = _new_vendor(live, "register")
    created = await _register(http, live, vendor_id, "https://vendor.example/hooks/sla", ["clock.breached"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["clock.breached"]
    listed = await http.get(f"/v1/vendors/{vendor_id}/webhooks", headers=live.headers("operations"))
    assert listed.status_code == 200 and [w["id"] for w in listed.json()["items"]] == [created["id"]]
    own = {"Authorization": f"Bearer {create_key(live.engine, Role.COORDINATOR, vendor_id=vendor_id)}"}
    assert (await http.get(f"/v1/vendors/{vendor_id}/webhooks", headers=own)).json() == listed.json()
    assert (await http.delete(f"/v1/vendors/{vendor_id}/webhooks/{created['id']}", headers=own)).status_code == 403
    assert "secret" not in listed.text and created["secret"] not in listed.text
    [row] = rows(live.engine, WebhookRow, id=created["id"])
    assert created["secret"] not in str(row.sealed_secret)
    assert unseal_text(EncryptionCodec(TEST_KEYS), row.sealed_secret) == created["secret"]

    path = f"/v1/vendors/{vendor_id}/webhooks"
    refused = {
        "coordinator may not register": await http.post(
            "/v1/vendors/vendor-reliable/webhooks",
            json={"url": "https://vendor.example/x", "events": ["clock.met"]},
            headers=live.headers("coordinator"),
        ),
        "another vendor's coordinator does not see it": (await http.get(path, headers=live.headers("coordinator"))),
        "auditors have no business here": (await http.get(path, headers=live.headers("auditor"))),
        "unknown vendor": (await http.get("/v1/vendors/vendor-nobody/webhooks", headers=live.headers("admin"))),
    }
    assert {k: r.status_code for k, r in refused.items()} == {
        "coordinator may not register": 403,
        "another vendor's coordinator does not see it": 404,
        "auditors have no business here": 403,
        "unknown vendor": 404,
    }
    for bad in (
        {"url": "ftp://vendor.example/x", "events": ["clock.met"]},
        {"url": "https://user:pw@vendor.example/x", "events": ["clock.met"]},
        {"url": "https://vendor.example/x", "events": []},
        {"url": "https://vendor.example/x", "events": ["clock.late"]},
        {"url": "https://vendor.example/x", "events": ["clock.met", "clock.met"]},
        {"url": "https://vendor.example/x", "events": ["clock.met"], "secret": "mine"},
    ):
        response = await http.post(path, json=bad, headers=live.headers("admin"))
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")

    deleted = await http.delete(f"{path}/{created['id']}", headers=live.headers("admin"))
    assert deleted.status_code == 204
    assert (await http.delete(f"{path}/{created['id']}", headers=live.headers("admin"))).status_code == 404
    assert (await http.get(path, headers=live.headers("admin"))).json()["items"] == []
    [row] = rows(live.engine, WebhookRow, id=created["id"])
    assert row.sealed_secret is None and row.deleted_at is not None  # nothing kept that is not needed


async def test_a_delivery_log_cursor_that_is_not_ours_answers_422_naming_the_rule(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    vendor_id = _new_vendor(live, "cursor")
    created = await _register(http, live, vendor_id, "https://vendor.example/hooks/sla", ["clock.breached"])
    path = f"/v1/vendors/{vendor_id}/webhooks/{created['id']}/deliveries"

    def cursor(*parts: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()

    for bad in (
        "not-base64!",
        cursor("2026-12-01T10:00:00", "msg_1"),  # no offset
        cursor("0001-01-01T00:00:00+08:00", "msg_1"),  # outside the business range
        cursor("2026-12-01", "msg_1"),  # a bare date
        cursor("2026-12-01T10:00:00+08:00", 7),  # not a message id
    ):
        answer = await http.get(path, params={"cursor": bad}, headers=live.headers("operations"))
        assert answer.status_code == 422, (bad, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["rule"] == "page.bad_cursor", answer.text
    fine = await http.get(
        path, params={"cursor": cursor("2026-12-01T10:00:00+08:00", "msg_1")}, headers=live.headers("operations")
    )
    assert fine.status_code == 200 and fine.json()["items"] == []


async def test_warnings_and_breaches_arrive_signed_seconds_after_their_instants_and_a_dead_receiver_delays_nothing(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    """Vendor A: a healthy endpoint and a flaky one (500 three times, then 200). Vendor B: nobody listens.
    A's at-risk warning and both breaches fall 8 s from now; B's breach at the same instant."""
    vendor_a, vendor_b = _new_vendor(live, "a"), _new_vendor(live, "b")
    dead_url = f"http://127.0.0.1:{free_port()}/gone"
    registered: list[tuple[str, str]] = []
    with receiving() as receiver:
        try:
            ok = await _register(http, live, vendor_a, receiver.url("/ok"), ["clock.at_risk", "clock.breached"])
            flaky = await _register(http, live, vendor_a, receiver.url("/flaky"), ["clock.breached"])
            dead = await _register(http, live, vendor_b, dead_url, ALL_EVENTS)
            registered = [(vendor_a, ok["id"]), (vendor_a, flaky["id"]), (vendor_b, dead["id"])]
            receiver.secrets |= {"/ok": ok["secret"], "/flaky": flaky["secret"]}
            receiver.failures["/flaky"] = 3

            instant = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
            warned = await _open_backdated(http, live, vendor_a, instant - 48 * HOUR * 0.8)  # 80 % at `instant`
            breached = await _open_backdated(http, live, vendor_a, instant - 48 * HOUR)
            dead_breached = await _open_backdated(http, live, vendor_b, instant - 48 * HOUR)

            def arrived(request_id: str, kind: str, threshold: float | None = None) -> list[Any]:
                return [
                    r
                    for r in receiver.of("/ok", kind)
                    if r.body["data"]["request_id"] == request_id and r.body["data"].get("threshold") == threshold
                ]

            # at the opening, the past 50 % warnings went out at once
            await eventually(lambda: arrived(warned, "clock.at_risk", 0.5) and arrived(breached, "clock.at_risk", 0.8))
            [warning] = await eventually(lambda: arrived(warned, "clock.at_risk", 0.8), timeout=30)
            [breach] = await eventually(lambda: arrived(breached, "clock.breached"), timeout=30)
            latencies = {
                "at_risk": warning.at - datetime.fromisoformat(warning.body["timestamp"]).timestamp(),
                "breached": breach.at - datetime.fromisoformat(breach.body["timestamp"]).timestamp(),
            }
            backend = live.settings.database_url.split(":")[0]
            print(f"\ndelivery latency from the recorded instant ({backend}): {latencies}")
            assert datetime.fromisoformat(breach.body["timestamp"]) == instant
            assert all(0 <= seconds < 3 for seconds in latencies.values()), latencies
            assert breach.signature_ok and warning.signature_ok
            assert breach.body["data"]["link"].endswith(f"/v1/requests/{breached}")

            # B's receiver is down: B's own breach is still recorded at its instant, as fast as A's
            def outcome(request_id: str) -> list[Any]:
                return rows(live.engine, ClockOutcomeRow, request_id=request_id, clock_id="inform_status")

            [dead_outcome] = await eventually(lambda: outcome(dead_breached))
            [a_outcome] = await eventually(lambda: outcome(breached))
            assert dead_outcome.outcome_at == a_outcome.outcome_at == instant
            lag = {"dead vendor": dead_outcome.recorded_at - instant, "live vendor": a_outcome.recorded_at - instant}
            print(f"breach recorded after its instant: {lag}")
            assert all(timedelta(0) <= seconds < timedelta(seconds=3) for seconds in lag.values()), lag

            # the flaky endpoint: the same message four times, the same webhook-id, processed once
            def answers() -> list[int]:
                return [r.answered for r in receiver.attempts("/flaky", breach.message_id)]

            await eventually(lambda: answers() == [500, 500, 500, 200], timeout=30)
            sent = receiver.attempts("/flaky", breach.message_id)
            assert {r.message_id for r in sent} == {breach.message_id} and all(r.signature_ok for r in sent)
            assert len({r.headers["webhook-timestamp"] for r in sent}) >= 2  # each attempt signs its own time
            assert len({r.headers["webhook-signature"] for r in sent}) >= 2
            assert [r.message_id for r in receiver.of("/flaky")].count(breach.message_id) == 1

            # the delivery logs over HTTP
            async def log(vendor_id: str, webhook_id: str) -> list[dict[str, Any]]:
                response = await http.get(
                    f"/v1/vendors/{vendor_id}/webhooks/{webhook_id}/deliveries", headers=live.headers("operations")
                )
                assert response.status_code == 200, response.text
                return list(response.json()["items"])

            [flaky_log] = await log(vendor_a, flaky["id"])
            assert (flaky_log["message_id"], flaky_log["request_id"], flaky_log["state"]) == (
                breach.message_id,
                breached,
                "delivered",
            )
            assert (
                flaky_log["attempts"] == 4 and flaky_log["last_status_code"] == 200 and flaky_log["last_error"] is None
            )
            assert [a["status_code"] for a in flaky_log["attempt_log"]] == [500, 500, 500, 200]
            assert flaky_log["attempt_log"][0]["error"] == "HTTP 5xx: the receiver failed"  # never its text
            dead_log = await log(vendor_b, dead["id"])
            # B: the two past warnings (at the opening) and the breach, each retried, none delivered
            assert {d["event_type"] for d in dead_log} == {"clock.at_risk", "clock.breached"}
            breach_log = next(d for d in dead_log if d["event_type"] == "clock.breached")
            assert breach_log["state"] == "pending" and breach_log["last_status_code"] is None
            assert breach_log["last_error"] == "could not connect"  # a fixed reason, never the exception's text
            ok_log = await log(vendor_a, ok["id"])
            assert {d["state"] for d in ok_log} == {"delivered"} and {d["attempts"] for d in ok_log} == {1}
            coordinator = await http.get(
                f"/v1/vendors/{vendor_b}/webhooks/{dead['id']}/deliveries", headers=live.headers("coordinator")
            )
            assert coordinator.status_code == 404  # vendor-reliable's coordinator: not its vendor
        finally:
            for vendor_id, webhook_id in registered:  # stop the dead receiver's retries
                await http.delete(f"/v1/vendors/{vendor_id}/webhooks/{webhook_id}", headers=live.headers("admin"))


def test_the_corpus_holds_a_request_that_notified_and_older_ones_that_replay_without_the_patch() -> None:
    """tests/workflows/test_replay.py replays every history; this says what the notification path adds to them.
    `breached` records two breaches on timers before the patch existed: replaying it, the new code
    finds notifications, asks workflow.patched and is told no, so it issues nothing new."""

    def markers(name: str) -> dict[str, int]:
        events = json.loads((HISTORIES / f"{name}.json").read_text())["events"]
        names = [
            e["markerRecordedEventAttributes"]["markerName"] for e in events if "markerRecordedEventAttributes" in e
        ]
        return {n: names.count(n) for n in set(names)} | {"events": len(events)}

    assert markers("breached") == {"core_local_activity": 11, "events": 72}
    # 7 changes (open, 3 timers, 3 events), 6 of them notifying; the patch once
    assert markers("notified") == {"core_local_activity": 13, "core_patch": 1, "events": 58}


async def test_a_delivery_ends_failed_after_24_hours_or_at_410_and_abandoned_once_its_webhook_is_deleted(
    own_env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    env = own_env
    _vendor(engine, "vendor-reliable")
    codec = EncryptionCodec(TEST_KEYS)
    with receiving() as receiver:
        endpoints = {}
        for path, status in (("/broken", 500), ("/gone", 410), ("/deleted", 503)):
            hook, receiver.secrets[path] = webhooks.create_webhook(
                engine, codec, "vendor-reliable", receiver.url(path), ["clock.at_risk"], "t"
            )
            receiver.answers[path] = status
            endpoints[path] = hook.id
        async with build_worker(env.client, settings, engine):
            now = (await env.get_current_time()).astimezone(CST)
            # opened 25 h ago: the 50 % warning of the 48 h clock is past, so the opening notifies
            handle = await open_workflow(env.client, settings.task_queue, OUTPATIENT, now - 25 * HOUR)
            await eventually(lambda: [r for r in receiver.requests if r.path == "/gone"])
            await eventually(lambda: len([r for r in receiver.requests if r.path == "/deleted"]) >= 2)
            webhooks.delete_webhook(engine, "vendor-reliable", endpoints["/deleted"])
            await env.sleep(25 * HOUR)  # past the 24 h of retries

            def log(path: str) -> Any:
                row, _ = webhooks.deliveries(engine, endpoints[path], 10)[-1]  # the oldest: the 50 % warning
                return row if row.state != "pending" else None

            broken = await eventually(lambda: log("/broken"), timeout=30)
            assert broken.state == "failed"
            assert broken.failure_reason == "gave up after 24 h of retries; last: HTTP 5xx: the receiver failed"
            assert broken.last_status_code == 500 and broken.last_error == "HTTP 5xx: the receiver failed"
            assert broken.attempts >= 15  # 1 s, 2 s, 4 s, ... then hourly, for 24 h
            gone = await eventually(lambda: log("/gone"), timeout=30)
            assert (gone.state, gone.attempts, gone.last_status_code) == ("failed", 1, 410)
            assert "410" in (gone.failure_reason or "")
            deleted = await eventually(lambda: log("/deleted"), timeout=30)
            assert deleted.state == "abandoned" and deleted.failure_reason == "webhook deleted"
            await send_update(handle, "customer_cancelled", await env.get_current_time())
            await finish(env, handle)
