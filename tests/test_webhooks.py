"""Vendor webhooks: signed Standard Webhooks deliveries started by the request workflow, retried,
deduplicable, logged; a dead receiver never delays the workflow or another vendor.

On the time-skipping server (the workflow's instants and its history) and over HTTP on the live
stack, SQLite and PostgreSQL (registration, real-time latency, the delivery log)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.notify import message_body, message_id, sign
from runtime.codec import EncryptionCodec, unseal_text
from runtime.settings import Settings
from store import webhooks
from store.models import ClockOutcomeRow, VendorRow, WebhookRow
from tests.helpers import CST
from tests.histories import TEST_KEYS
from tests.webhook_receiver import receiving, verify
from tests.workflow_helpers import eventually, finish, open_test_request, rows, send
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


def test_a_message_id_is_stable_and_differs_per_clock_instance_cycle_kind_and_threshold() -> None:
    at = datetime(2025, 10, 1, tzinfo=CST)
    base = Notification("clock.at_risk", at, "running", "inform_status", 1, 1, at, threshold=0.5)
    same = Notification("clock.at_risk", at + HOUR, "running", "inform_status", 1, 1, at, threshold=0.5)
    assert message_id("r1", base) == message_id("r1", same)  # what identifies it, not when it was seen
    variants = [
        Notification("clock.at_risk", at, "running", "inform_status", 1, 1, at, threshold=0.8),
        Notification("clock.at_risk", at, "running", "inform_status", 2, 1, at, threshold=0.5),
        Notification("clock.at_risk", at, "running", "inform_status", 1, 2, at, threshold=0.5),
        Notification("clock.breached", at, "breached", "inform_status", 1, 1, at),
        Notification("clock.at_risk", at, "running", "arrange_outpatient", 1, 1, at, threshold=0.5),
    ]
    ids = {message_id("r1", base), message_id("r2", base), *(message_id("r1", v) for v in variants)}
    assert len(ids) == 7 and all(i.startswith("msg_") and "." not in i for i in ids)


def test_a_body_carries_no_personal_data_and_instants_in_plus_eight() -> None:
    at = datetime(2025, 10, 22, 16, tzinfo=UTC)
    notify = NotifyInput("r1", OUTPATIENT, "vendor-a", [])
    body = message_body(notify, Notification("clock.breached", at, "breached", "inform_status", 1, 1, at), "http://x")
    assert body == (
        '{"type":"clock.breached","timestamp":"2025-10-23T00:00:00+08:00","data":{"request_id":"r1",'
        '"service_id":"pingan_health.green_channel.outpatient","vendor_id":"vendor-a","clock_id":"inform_status",'
        '"instance":1,"cycle":1,"due_at":"2025-10-23T00:00:00+08:00","state":"breached",'
        '"link":"http://x/v1/requests/r1"}}'
    )


# -- the workflow on the time-skipping server ------------------------------------------------------
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
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    _vendor(engine, "vendor-reliable")
    codec = EncryptionCodec(TEST_KEYS)
    with receiving() as receiver:
        hook, secret = webhooks.create_webhook(engine, codec, "vendor-reliable", receiver.url("/hook"), ALL_EVENTS, "t")
        receiver.secrets["/hook"] = secret
        [stored] = rows(engine, WebhookRow, id=hook.id)
        assert secret not in str(stored.sealed_secret) and unseal_text(codec, stored.sealed_secret) == secret
        async with build_worker(env.client, settings, engine):
            opened = (await env.get_current_time()).astimezone(CST)
            handle = await open_test_request(env.client, settings.task_queue, OUTPATIENT, opened)
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
            await send(handle, "customer_confirmed", opened + 47 * HOUR)
            now = await env.get_current_time()
            await send(handle, "expert_confirmed", now)
            await send(handle, "service_completed", now)
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
