"""Vendor webhooks: register (admin; the signing secret is shown once), list, delete, and read the
delivery log. Deliveries themselves are started by the request workflows (workflows/webhook_delivery.py).

Who: an admin registers and deletes; admin, operations and the vendor's own coordinators read.
Another vendor's coordinator gets 404 (existence is not revealed), an auditor 403.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import Row, select
from starlette.concurrency import run_in_threadpool

from api.access import Action, narrow, require
from api.deps import PrincipalDep, StateDep
from api.instants import Instant
from api.problems import PROBLEM_RESPONSES, Problem, not_found
from api.reads import decode_cursor, encode_cursor
from api.schemas import Identifier, Strict
from api.state import AppState
from runtime.codec import EncryptionCodec
from runtime.webhook_target import SOURCE as TARGET_RULES
from runtime.webhook_target import UnsafeTarget, check_url
from store import webhooks
from store.keys import Principal
from store.models import VendorRow, table_of

router = APIRouter(prefix="/v1/vendors", tags=["webhooks"])
VENDORS = table_of(VendorRow)
# The wire's spelling of sla/notifications.py's enums, inline in the OpenAPI document as before;
# tests/api/test_webhook_enums.py holds them equal.
EventKind = Literal["clock.at_risk", "clock.breached", "clock.met", "outcome.corrected", "request.closed"]
DeliveryStateOut = Literal["pending", "delivered", "failed", "abandoned"]


# The URL's rules need the setting SLA_WEBHOOK_ALLOW_LOOPBACK: checked in the route (runtime/webhook_target.py).
WebhookUrl = Annotated[str, Field(min_length=8, max_length=2048)]


def _unique(events: list[str]) -> list[str]:
    if len(set(events)) != len(events):
        raise ValueError("lists an event twice")
    return events


class WebhookCreate(Strict):
    url: WebhookUrl = Field(description="where deliveries are POSTed: https to a public host, port 443 or >= 1024")
    events: Annotated[list[EventKind], Field(min_length=1, max_length=5), AfterValidator(_unique)] = Field(
        description="the kinds this endpoint receives"
    )


class WebhookOut(BaseModel):
    id: str
    vendor_id: str
    url: str
    events: list[str]
    created_at: Instant
    created_by: str


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="whsec_<base64>: the Standard Webhooks signing secret. Shown only now; keep it to verify "
        "webhook-signature (README, Vendor integrators)."
    )


class WebhookList(BaseModel):
    items: list[WebhookOut]


class AttemptOut(BaseModel):
    attempt: int
    at: Instant
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    message_id: str = Field(description="the webhook-id header: the same on every attempt of this message")
    event_type: str
    request_id: str
    clock_id: str | None
    instance: int
    occurred_at: Instant
    created_at: Instant = Field(description="when the request workflow started the delivery")
    state: DeliveryStateOut
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: Instant | None
    delivered_at: Instant | None
    failure_reason: str | None
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


def _out(row: Row[object]) -> WebhookOut:
    return WebhookOut.model_validate(row, from_attributes=True)


def _check_vendor(state: AppState, principal: Principal, vendor_id: str, *, write: bool) -> None:
    """404 for an unknown vendor or another vendor's coordinator; 403 for a role that may not."""
    if narrow(principal, vendor=vendor_id, insurer=None).outside:
        raise not_found(f"vendor {vendor_id}")
    require(principal, Action.MANAGE_WEBHOOKS if write else Action.READ_WEBHOOKS)
    with state.engine.connect() as connection:
        if connection.execute(select(VENDORS.c.id).where(VENDORS.c.id == vendor_id)).first() is None:
            raise not_found(f"vendor {vendor_id}")


def _webhook(state: AppState, principal: Principal, vendor_id: str, webhook_id: str) -> Row[object]:
    _check_vendor(state, principal, vendor_id, write=False)
    row = webhooks.get_webhook(state.engine, webhook_id)
    if row is None or row.vendor_id != vendor_id:
        raise not_found(f"webhook {webhook_id}")
    return row


@router.post("/{vendor_id}/webhooks", status_code=201, response_model=WebhookCreated, responses=PROBLEM_RESPONSES)
def register_webhook(
    vendor_id: Identifier, body: WebhookCreate, principal: PrincipalDep, state: StateDep, response: Response
) -> WebhookCreated:
    """Register an endpoint for some of the vendor's events. The answer holds the signing secret, once."""
    _check_vendor(state, principal, vendor_id, write=True)
    try:
        check_url(body.url, allow_loopback=state.settings.webhook_allow_loopback)
    except UnsafeTarget as unsafe:
        raise Problem(
            422, "Unprocessable Content", f"url: {unsafe.reason}", rule=unsafe.rule, source=TARGET_RULES
        ) from None
    codec = EncryptionCodec(state.settings.keys())
    row, secret = webhooks.create_webhook(state.engine, codec, vendor_id, body.url, list(body.events), principal.sender)
    response.headers["Location"] = f"/v1/vendors/{vendor_id}/webhooks/{row.id}"
    return WebhookCreated(**_out(row).model_dump(), secret=secret)


@router.get("/{vendor_id}/webhooks", response_model=WebhookList, responses=PROBLEM_RESPONSES)
def list_webhooks(vendor_id: Identifier, principal: PrincipalDep, state: StateDep) -> WebhookList:
    """The vendor's live webhooks (secrets are never shown again)."""
    _check_vendor(state, principal, vendor_id, write=False)
    return WebhookList(items=[_out(r) for r in webhooks.list_webhooks(state.engine, vendor_id)])


@router.get("/{vendor_id}/webhooks/{webhook_id}", response_model=WebhookOut, responses=PROBLEM_RESPONSES)
def get_webhook(vendor_id: Identifier, webhook_id: Identifier, principal: PrincipalDep, state: StateDep) -> WebhookOut:
    row = _webhook(state, principal, vendor_id, webhook_id)
    if row.deleted_at is not None:
        raise not_found(f"webhook {webhook_id}")
    return _out(row)


@router.delete("/{vendor_id}/webhooks/{webhook_id}", status_code=204, responses=PROBLEM_RESPONSES)
def delete_webhook(vendor_id: Identifier, webhook_id: Identifier, principal: PrincipalDep, state: StateDep) -> Response:
    """Stop deliveries to it: pending ones end at their next attempt; its delivery log stays readable."""
    _check_vendor(state, principal, vendor_id, write=True)
    if not webhooks.delete_webhook(state.engine, vendor_id, webhook_id):
        raise not_found(f"webhook {webhook_id}")
    return Response(status_code=204)


_MESSAGE_ID = re.compile(r"msg_[0-9a-f]{1,64}")


@router.get("/{vendor_id}/webhooks/{webhook_id}/deliveries", response_model=DeliveryPage, responses=PROBLEM_RESPONSES)
async def list_deliveries(
    vendor_id: Identifier,
    webhook_id: Identifier,
    principal: PrincipalDep,
    state: StateDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DeliveryPage:
    """The delivery log, newest first: each message with its attempts, status codes and last error."""
    after = decode_cursor(cursor, _MESSAGE_ID, rule="page.bad_cursor") if cursor is not None else None

    def load() -> list[tuple[Row[object], list[Row[object]]]]:
        _webhook(state, principal, vendor_id, webhook_id)
        return webhooks.deliveries(state.engine, webhook_id, limit + 1, after)

    found = await run_in_threadpool(load)
    page = found[:limit]
    items = [
        DeliveryOut(
            **{k: v for k, v in row._mapping.items() if k not in ("webhook_id",)},
            attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        )
        for row, attempts in page
    ]
    last = page[-1][0] if len(found) > limit else None
    return DeliveryPage(items=items, next_cursor=encode_cursor(last.created_at, last.message_id) if last else None)
