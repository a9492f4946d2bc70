"""Vendor webhooks and their delivery log: the rows, read and written with Core statements.

Blocking: call from a thread (the API's thread pool, asyncio.to_thread in activities).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, or_, select, update

from runtime.codec import EncryptionCodec, seal_text
from sla.notifications import DeliveryState, WebhookEvent
from store.db import write_transaction
from store.models import WebhookAttemptRow, WebhookDeliveryRow, WebhookRow, table_of
from store.upsert import insert_missing, upsert

WEBHOOKS, DELIVERIES, ATTEMPTS = table_of(WebhookRow), table_of(WebhookDeliveryRow), table_of(WebhookAttemptRow)
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks symmetric secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def create_webhook(
    engine: Engine, codec: EncryptionCodec, vendor_id: str, url: str, events: list[str], created_by: str
) -> tuple[Row[Any], str]:
    """Register a webhook; returns its row and the secret, which is never shown again."""
    secret = new_secret()
    webhook_id = f"wh_{secrets.token_hex(8)}"
    with write_transaction(engine) as connection:
        connection.execute(
            WEBHOOKS.insert().values(
                id=webhook_id,
                vendor_id=vendor_id,
                url=url,
                events=events,
                sealed_secret=seal_text(codec, secret),
                created_at=datetime.now(UTC),
                created_by=created_by,
            )
        )
        row = connection.execute(select(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id)).one()
    return row, secret


def list_webhooks(engine: Engine, vendor_id: str) -> list[Row[Any]]:
    w = WEBHOOKS.c
    with engine.connect() as connection:
        query = select(WEBHOOKS).where(w.vendor_id == vendor_id, w.deleted_at.is_(None)).order_by(w.created_at, w.id)
        return list(connection.execute(query).all())


def get_webhook(engine: Engine, webhook_id: str) -> Row[Any] | None:
    with engine.connect() as connection:
        return connection.execute(select(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id)).first()


def delete_webhook(engine: Engine, vendor_id: str, webhook_id: str) -> bool:
    """Stop deliveries to it (pending ones end at their next attempt) and forget its secret; the row
    stays for the delivery log."""
    w = WEBHOOKS.c
    with write_transaction(engine) as connection:
        result = connection.execute(
            update(WEBHOOKS)
            .where(w.id == webhook_id, w.vendor_id == vendor_id, w.deleted_at.is_(None))
            .values(deleted_at=datetime.now(UTC), sealed_secret=None)
        )
        return bool(result.rowcount)


@dataclass(frozen=True)
class Pending:
    """A delivery about to start: its log row."""

    webhook_id: str
    message_id: str
    event_type: WebhookEvent
    request_id: str
    clock_id: str | None
    instance: int
    occurred_at: datetime


class Subscriptions:
    """What each vendor's live webhooks want, read at most every `seconds` per vendor: the activity of
    every change asks, so that a request whose vendor wants nothing writes no notification at all. A
    webhook registered or deleted reaches running requests within `seconds`."""

    def __init__(self, engine: Engine, seconds: float = 5.0) -> None:
        self.engine, self.seconds = engine, seconds
        self._read: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def kinds(self, vendor_id: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._read.get(vendor_id)
        if hit is not None and now - hit[0] < self.seconds:
            return hit[1]
        wanted = frozenset().union(*(events for _, events in subscribed(self.engine, vendor_id)))
        with self._lock:
            self._read[vendor_id] = (now, wanted)
        return wanted


def subscribed(engine: Engine, vendor_id: str) -> list[tuple[str, frozenset[str]]]:
    """The vendor's live webhooks and the events each wants."""
    w = WEBHOOKS.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(w.id, w.events).where(w.vendor_id == vendor_id, w.deleted_at.is_(None)).order_by(w.id)
        ).all()
    return [(r.id, frozenset(r.events or [])) for r in rows]


def record_pending(engine: Engine, pending: Iterable[Pending]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "webhook_id": p.webhook_id,
            "message_id": p.message_id,
            "event_type": p.event_type,
            "request_id": p.request_id,
            "clock_id": p.clock_id,
            "instance": p.instance,
            "occurred_at": p.occurred_at,
            "created_at": now,
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
        }
        for p in pending
    ]
    if rows:
        with write_transaction(engine) as connection:
            insert_missing(connection, DELIVERIES, rows)


def record_attempt(
    engine: Engine,
    webhook_id: str,
    message_id: str,
    attempt: int,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    delivered: bool,
) -> None:
    """One attempt: its row, and the summary (never moved back from delivered)."""
    d = DELIVERIES.c
    with write_transaction(engine) as connection:
        upsert(
            connection,
            ATTEMPTS,
            [
                {
                    "webhook_id": webhook_id,
                    "message_id": message_id,
                    "attempt": attempt,
                    "at": at,
                    "status_code": status_code,
                    "error": error,
                    "duration_ms": duration_ms,
                }
            ],
        )
        values: dict[str, Any] = {
            "attempts": attempt,
            "last_status_code": status_code,
            "last_error": error,
            "last_attempt_at": at,
        }
        if delivered:
            values |= {"state": DeliveryState.DELIVERED.value, "delivered_at": at}
        connection.execute(
            update(DELIVERIES)
            .where(
                d.webhook_id == webhook_id,
                d.message_id == message_id,
                d.state != DeliveryState.DELIVERED.value,
                d.attempts <= attempt,
            )
            .values(**values)
        )


def record_end(engine: Engine, webhook_id: str, message_id: str, state: DeliveryState, reason: str) -> int:
    """A delivery that will not be attempted again (failed, abandoned); returns its attempts."""
    d = DELIVERIES.c
    key = (d.webhook_id == webhook_id, d.message_id == message_id)
    with write_transaction(engine) as connection:
        connection.execute(
            update(DELIVERIES)
            .where(*key, d.state != DeliveryState.DELIVERED.value)
            .values(state=state.value, failure_reason=reason[:500])
        )
        attempts = connection.execute(select(d.attempts).where(*key)).scalar()
    return int(attempts or 0)


def deliveries(
    engine: Engine, webhook_id: str, limit: int, after: tuple[datetime, str] | None = None
) -> list[tuple[Row[Any], list[Row[Any]]]]:
    """A page of the delivery log, newest first, each with its attempts in order."""
    d, a = DELIVERIES.c, ATTEMPTS.c
    query = select(DELIVERIES).where(d.webhook_id == webhook_id)
    if after is not None:
        created, message = after
        query = query.where(or_(d.created_at < created, and_(d.created_at == created, d.message_id < message)))
    query = query.order_by(d.created_at.desc(), d.message_id.desc()).limit(limit)
    with engine.connect() as connection:
        rows = list(connection.execute(query).all())
        attempts: dict[str, list[Row[Any]]] = {}
        if rows:
            found = connection.execute(
                select(ATTEMPTS)
                .where(a.webhook_id == webhook_id, a.message_id.in_([r.message_id for r in rows]))
                .order_by(a.message_id, a.attempt)
            ).all()
            for attempt in found:
                attempts.setdefault(attempt.message_id, []).append(attempt)
    return [(r, attempts.get(r.message_id, [])) for r in rows]
