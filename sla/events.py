"""Canonical event names (DESIGN.md, Events). A service accepts a subset."""

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
    # The customer is told the service does not start (or cannot go on), as distinct from the start notice
    # the customer confirms (002:L470 通知您是否启动): a rejection's notice never starts the work after a start.
    REJECTION_NOTIFIED = "rejection_notified"
    # The request is outside what the entry commits to (e.g. a hospital outside 一线及省会城市, 003:L28; an
    # order outside the O2O core regions, 003:L4751): the clocks it voids were never owed.
    OUT_OF_SCOPE = "out_of_scope"
    INVESTIGATION_REQUIRED = "investigation_required"
    INVESTIGATION_CONCLUDED = "investigation_concluded"
    ADMISSION_NOTICE_ISSUED = "admission_notice_issued"
    EXPERT_CONFIRMED = "expert_confirmed"
    CUSTOMER_CONFIRMED = "customer_confirmed"
    HOSPITAL_CONFIRMED = "hospital_confirmed"
    CONSULTATION_HELD = "consultation_held"
    # The escort (专人陪同/陪诊人员) was with the customer at the visit, exam, admission or operation
    # (003:L28-30, 001:L137, 001:L346).
    ESCORT_PROVIDED = "escort_provided"
    SAMPLE_RECEIVED = "sample_received"
    REPORT_ISSUED = "report_issued"
    # The paper copy of a report promised with the electronic one (电子版及纸质版, 002:L294, 004:L277).
    PAPER_REPORT_ISSUED = "paper_report_issued"
    PATIENT_ADMITTED = "patient_admitted"
    PATIENT_DISCHARGED = "patient_discharged"
    # The customer tells of the coming discharge (客户出院前(至少提早一天)通知我司, 001:L566); its
    # occurred_at is the instant of the notice.
    DISCHARGE_NOTIFIED = "discharge_notified"
    # The customer asks for a (further) payment, e.g. a deposit top-up (续费, 001:L565).
    PAYMENT_REQUESTED = "payment_requested"
    PAYMENT_ADVANCED = "payment_advanced"
    ORDER_PAID = "order_paid"
    # The drugs leave the pharmacy (发货, 003:L4763): no return or exchange after it.
    DRUG_DISPATCHED = "drug_dispatched"
    DRUG_DELIVERED = "drug_delivered"
    # The customer asks to return or exchange drugs (退换, 003:L4763).
    RETURN_REQUESTED = "return_requested"
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
