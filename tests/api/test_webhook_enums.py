"""The webhook enums (sla/notifications.py) and the API's spelling of them never drift apart."""

from __future__ import annotations

from typing import get_args

from api.routes.vendors import DeliveryStateOut, EventKind
from sla.notifications import DeliveryState, WebhookEvent


def test_the_api_offers_exactly_the_webhook_events_the_workflow_can_send() -> None:
    assert list(get_args(EventKind)) == [kind.value for kind in WebhookEvent]


def test_the_api_shows_exactly_the_delivery_states_the_store_writes() -> None:
    assert list(get_args(DeliveryStateOut)) == [state.value for state in DeliveryState]
