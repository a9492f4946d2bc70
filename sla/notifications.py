"""What a vendor may be told about its requests, and how far one message to one webhook got.

The values are the wire's: a webhook body's `type`, a subscription's `events`, a delivery row's
`state` (store/webhooks.py, activities/notify.py, workflows/notifications.py, api/routes/vendors.py).
"""

from enum import StrEnum


class WebhookEvent(StrEnum):
    CLOCK_AT_RISK = "clock.at_risk"  # a warning threshold fired in the current cycle
    CLOCK_BREACHED = "clock.breached"
    CLOCK_MET = "clock.met"
    OUTCOME_CORRECTED = "outcome.corrected"  # a recorded outcome changed (a correction)
    REQUEST_CLOSED = "request.closed"


class DeliveryState(StrEnum):
    PENDING = "pending"  # started, not yet delivered
    DELIVERED = "delivered"  # a 2xx answer: never moved back
    FAILED = "failed"  # retries spent, or 410 Gone
    ABANDONED = "abandoned"  # the webhook was deleted before it was delivered
