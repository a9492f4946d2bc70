"""Canonical event names (the API's list: README.md, What the API takes). A service accepts a subset."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class EventType(StrEnum):
    # The customer's materials arrived, before anyone judged them complete or in scope (001:L548-552).
    MATERIALS_RECEIVED = "materials_received"
    MATERIALS_INCOMPLETE = "materials_incomplete"
    MATERIALS_COMPLETE = "materials_complete"
    ELIGIBILITY_APPROVED = "eligibility_approved"
    ELIGIBILITY_REJECTED = "eligibility_rejected"
    INVESTIGATION_REQUIRED = "investigation_required"
    INVESTIGATION_CONCLUDED = "investigation_concluded"
    ADMISSION_NOTICE_ISSUED = "admission_notice_issued"
    EXPERT_CONFIRMED = "expert_confirmed"
    CUSTOMER_CONFIRMED = "customer_confirmed"
    HOSPITAL_CONFIRMED = "hospital_confirmed"
    CONSULTATION_HELD = "consultation_held"
    SAMPLE_RECEIVED = "sample_received"
    REPORT_ISSUED = "report_issued"
    PATIENT_ADMITTED = "patient_admitted"
    PATIENT_DISCHARGED = "patient_discharged"
    # The customer asks for a (further) payment, e.g. a deposit top-up (续费, 001:L565).
    PAYMENT_REQUESTED = "payment_requested"
    PAYMENT_ADVANCED = "payment_advanced"
    ORDER_PAID = "order_paid"
    DRUG_DELIVERED = "drug_delivered"
    FOLLOW_UP_DONE = "follow_up_done"
    CUSTOMER_NO_SHOW = "customer_no_show"
    # The customer asks to change the agreed time or content of the service (改期/变更, 003:L3340).
    CUSTOMER_RESCHEDULED = "customer_rescheduled"
    CUSTOMER_CANCELLED = "customer_cancelled"
    SERVICE_COMPLETED = "service_completed"
    # Recorded by the system when the request opens; never sent by a coordinator.
    REQUEST_OPENED = "request_opened"


SYSTEM_EVENTS = frozenset({EventType.REQUEST_OPENED})
# Every service accepts these: they close the request.
CLOSING_EVENTS = frozenset({EventType.SERVICE_COMPLETED, EventType.CUSTOMER_CANCELLED})


class RequestStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


def request_status(event_types: Iterable[str]) -> RequestStatus:
    """The first closing event in the log decides."""
    for event_type in event_types:
        if event_type == EventType.SERVICE_COMPLETED:
            return RequestStatus.COMPLETED
        if event_type == EventType.CUSTOMER_CANCELLED:
            return RequestStatus.CANCELLED
    return RequestStatus.OPEN
