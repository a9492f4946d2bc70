"""Vendor notifications: start the deliveries (`notify_vendor`, a local activity of the request
workflow) and make them (`deliver_webhook`, on the webhook task queue). The design and why it is
shaped so: workflows/webhook_delivery.py.

Standard Webhooks (https://www.standardwebhooks.com, symmetric scheme): every attempt carries
`webhook-id` (the message id, the same on every attempt: the receiver deduplicates by it),
`webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature: v1,<base64>`, the
HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the base64-decoded part of the `whsec_` secret.
The body is built once, when the delivery starts, and sent byte for byte on every attempt.

No personal data leaves: the body carries ids, instants, states and a link to the view.
Both activities are idempotent: a delivery workflow id per message and webhook (REJECT_DUPLICATE),
log rows keyed by message and attempt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory, WorkflowAlreadyStartedError

from runtime.codec import EncryptionCodec, unseal_text
from runtime.webhook_target import Resolver, UnsafeTarget, check_url, pinned_client, resolve_address, system_resolver
from sla.calendar.timeutil import SHANGHAI
from sla.notifications import DeliveryState, WebhookEvent
from store import webhooks
from workflows.messages import DeliveryInput, DeliveryResult, Notification, NotifyInput, NotifyResult
from workflows.webhook_delivery import WebhookDeliveryWorkflow, delivery_workflow_id

# Standard Webhooks recommends 15-30 s for the receiver to answer; the connection itself gets 5 s.
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_RETRY_AFTER = timedelta(hours=1)
USER_AGENT = "slatrack-webhooks/1"


def message_id(request_id: str, notification: Notification) -> str:
    """Stable per message: request, clock, instance, cycle, kind (and which threshold or correction),
    so a redelivery, a retried activity or a replayed workflow task carries the same id."""
    qualifier = ""
    if notification.kind == WebhookEvent.CLOCK_AT_RISK:
        qualifier = f"{notification.threshold:g}"
    elif notification.kind == WebhookEvent.OUTCOME_CORRECTED:
        qualifier = str(notification.ordinal)
    material = "|".join(
        [
            request_id,
            notification.clock_id or "",
            str(notification.instance),
            str(notification.cycle),
            notification.kind,
            qualifier,
        ]
    )
    return "msg_" + hashlib.sha256(material.encode()).hexdigest()[:32]


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


def message_body(notify: NotifyInput, notification: Notification, view_base_url: str) -> str:
    """The JSON body (Standard Webhooks shape: type, timestamp, data), compact and stable."""
    data: dict[str, Any] = {
        "request_id": notify.request_id,
        "service_id": notify.service_id,
        "vendor_id": notify.vendor_id,
        "clock_id": notification.clock_id,
        "instance": notification.instance if notification.clock_id else None,
        "cycle": notification.cycle if notification.clock_id else None,
        "due_at": _instant(notification.due_at),
        "state": notification.state,
        "link": f"{view_base_url}/v1/requests/{notify.request_id}",
    }
    if notification.threshold is not None:
        data["threshold"] = notification.threshold
    if notification.previous is not None:
        data["previous"] = notification.previous
    body = {"type": notification.kind, "timestamp": _instant(notification.at), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">` with the decoded `whsec_` secret."""
    key = base64.b64decode(secret.removeprefix(webhooks.SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def status_reason(status: int) -> str:
    """What the delivery log says of an answer: its class and a fixed reason, never the receiver's text."""
    reasons = {
        3: "redirects are not followed",
        4: "the receiver refused the message",
        5: "the receiver failed",
    }
    return f"HTTP {status // 100}xx: {reasons.get(status // 100, 'an unexpected answer')}"


def failure_reason(failure: httpx.HTTPError) -> str:
    """A fixed reason for a failed exchange: an exception's text could tell what answers inside."""
    if isinstance(failure, httpx.TimeoutException):
        return "timed out"
    if isinstance(failure, httpx.ConnectError):
        return "could not connect"
    return "the exchange failed"


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "")
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    return None


@dataclass(frozen=True)
class _Start:
    pending: webhooks.Pending
    delivery: DeliveryInput


class NotifyActivities:
    def __init__(
        self,
        client: Client,
        engine: Engine,
        codec: EncryptionCodec,
        webhook_task_queue: str,
        view_base_url: str,
        *,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.client = client
        self.engine = engine
        self.codec = codec
        self.webhook_task_queue = webhook_task_queue
        self.view_base_url = view_base_url
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    # -- started by the request workflow -------------------------------------------------------------
    @activity.defn(name="notify_vendor")
    async def notify_vendor(self, notify: NotifyInput) -> NotifyResult:
        """Log and start one delivery per notification and subscribed webhook; wait for none of them."""
        hooks = await asyncio.to_thread(webhooks.subscribed, self.engine, notify.vendor_id)
        starts = []
        for notification in notify.notifications:
            msg_id = message_id(notify.request_id, notification)
            body = message_body(notify, notification, self.view_base_url)
            for webhook_id, wanted in hooks:
                if notification.kind not in wanted:
                    continue
                pending = webhooks.Pending(
                    webhook_id,
                    msg_id,
                    notification.kind,
                    notify.request_id,
                    notification.clock_id,
                    notification.instance,
                    notification.at,
                )
                starts.append(_Start(pending, DeliveryInput(webhook_id, msg_id, notification.kind, body)))
        if not starts:
            return NotifyResult(0)
        await asyncio.to_thread(webhooks.record_pending, self.engine, [s.pending for s in starts])
        await asyncio.gather(*(self._start(s.delivery) for s in starts))
        return NotifyResult(len(starts))

    async def _start(self, delivery: DeliveryInput) -> None:
        # Started by an earlier attempt already: exactly one delivery per message and webhook.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self.client.start_workflow(
                WebhookDeliveryWorkflow.run,
                delivery,
                id=delivery_workflow_id(delivery.webhook_id, delivery.message_id),
                task_queue=self.webhook_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    # -- on the webhook task queue -------------------------------------------------------------------
    @activity.defn(name="deliver_webhook")
    async def deliver_webhook(self, delivery: DeliveryInput) -> DeliveryResult:
        """One attempt: sign, POST, log. Anything but 2xx fails the attempt and Temporal retries it
        (backoff from 1 s to 1 h, for 24 h); 410 Gone stops at once; Retry-After is honoured."""
        attempt = activity.info().attempt
        hook = await asyncio.to_thread(webhooks.get_webhook, self.engine, delivery.webhook_id)
        if hook is None or hook.deleted_at is not None or hook.sealed_secret is None:
            return await self._end(delivery, DeliveryState.ABANDONED, "webhook deleted")
        headers = signed_headers(unseal_text(self.codec, hook.sealed_secret), delivery)
        at, started = datetime.now(UTC), time.perf_counter()
        sent = await self._post(hook.url, delivery.body, headers)
        duration_ms = round((time.perf_counter() - started) * 1000)
        status = sent.response.status_code if sent.response is not None else None
        delivered = status is not None and 200 <= status < 300
        error = status_reason(status) if status is not None and not delivered else sent.error
        await asyncio.to_thread(
            webhooks.record_attempt,
            self.engine,
            delivery.webhook_id,
            delivery.message_id,
            attempt,
            at,
            status,
            error,
            duration_ms,
            delivered,
        )
        if delivered:
            return DeliveryResult(state=DeliveryState.DELIVERED, attempts=attempt, status_code=status)
        raise attempt_failed(sent, status, error)

    async def _post(self, url: str, body: str, headers: dict[str, str]) -> Sent:
        try:
            # Checked at every attempt: a row older than the check, or a name that now resolves inside.
            target = check_url(url, allow_loopback=self.allow_loopback)
            address = await resolve_address(target, self.resolver, allow_loopback=self.allow_loopback)
            async with pinned_client(target, address, TIMEOUT) as http:
                return Sent(response=await http.post(url, content=body.encode(), headers=headers))
        except UnsafeTarget as unsafe:
            return Sent(refused=unsafe, error=f"refused: {unsafe.reason}")
        except httpx.HTTPError as failure:
            return Sent(error=failure_reason(failure))

    async def _end(self, delivery: DeliveryInput, state: DeliveryState, reason: str) -> DeliveryResult:
        """A delivery that will not be attempted again: its row says why."""
        attempts = await asyncio.to_thread(
            webhooks.record_end, self.engine, delivery.webhook_id, delivery.message_id, state, reason
        )
        return DeliveryResult(state=state, attempts=attempts)

    @activity.defn(name="record_delivery_failure")
    async def record_delivery_failure(self, delivery: DeliveryInput, reason: str) -> DeliveryResult:
        return await self._end(delivery, DeliveryState.FAILED, reason)


@dataclass(frozen=True)
class Sent:
    """What one POST came to: the receiver's answer, or why there was none."""

    response: httpx.Response | None = None
    refused: UnsafeTarget | None = None  # a target we never send to (or one that did not resolve)
    error: str | None = None


def signed_headers(secret: str, delivery: DeliveryInput) -> dict[str, str]:
    """One attempt's Standard Webhooks headers, signed at this second."""
    timestamp = int(time.time())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery.message_id, timestamp, delivery.body),
    }


def attempt_failed(sent: Sent, status: int | None, error: str | None) -> ApplicationError:
    """How a failed attempt ends the activity: refused for good, gone for good, or retried."""
    if sent.refused is not None and sent.refused.rule != "webhook.unresolvable":
        # A URL or address we never send to does not become one by retrying.
        return ApplicationError(
            error or "refused", type="WebhookRefused", non_retryable=True, category=ApplicationErrorCategory.BENIGN
        )
    if status == 410:
        return ApplicationError(
            "410 Gone: the receiver asked for no more messages",
            type="WebhookGone",
            category=ApplicationErrorCategory.BENIGN,
        )
    delay = _retry_after(sent.response) if sent.response is not None and status in (429, 503) else None
    # Benign: a receiver's failure is expected, logged in the delivery log; the SDK logs it at DEBUG.
    return ApplicationError(
        error or "delivery failed",
        type="WebhookDeliveryFailed",
        next_retry_delay=delay,
        category=ApplicationErrorCategory.BENIGN,
    )
