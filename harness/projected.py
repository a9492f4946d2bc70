"""Requests written into a read model by the real `advance_request` activity (ActivityEnvironment, the
real planner, engine and projection), without a Temporal server: for tests and pages that read the
read model and need requests with known clocks, met, breached or still running."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.advance import RequestActivities
from activities.projection import ProjectionWriter
from adapters.catalog_files import default_catalog
from harness.keys import TEST_KEYS
from harness.scenarios import CANARY_INSURED, CANARY_POLICY, at
from runtime.codec import EncryptionCodec
from sla.engine.model import RecordedEvent
from sla.events import EventType, RequestStatus
from store.calendar import CalendarSource
from workflows.messages import AdvanceInput, PersonalData, RequestView


@dataclass(frozen=True)
class Step:
    """An event as a coordinator sends it: its type, when it happened, its data."""

    type: str
    occurred_at: datetime
    data: dict[str, Any] | None = None


def _environment(history_length: int) -> ActivityEnvironment:
    environment = ActivityEnvironment()
    scheduled = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=history_length)
    environment.info = replace(environment.info, scheduled_time=scheduled, current_attempt_scheduled_time=scheduled)
    return environment


def opening(
    service_id: str, opened_at: datetime, request_id: str, vendor_id: str, history_length: int = 3
) -> AdvanceInput:
    """The first change of a request: its opening, as the workflow hands it to `advance_request`."""
    catalog = default_catalog()
    entry, pinned = catalog.get(service_id), catalog.pin(service_id)
    view = RequestView(
        request_id=request_id,
        service_id=service_id,
        vendor_id=vendor_id,
        insurer_id=entry.insurer,
        status=RequestStatus.OPEN,
        opened_at=opened_at,
        revision=0,
        catalog_digest=pinned.digest,
        calendar_fingerprint="",
        events=[RecordedEvent(EventType.REQUEST_OPENED, opened_at, 1, "system", received_at=opened_at)],
    )
    return AdvanceInput(
        view=view,
        catalog_document=pinned.document,
        catalog_version=entry.version,
        now=opened_at,
        personal=PersonalData(CANARY_POLICY, CANARY_INSURED),
        history_length=history_length,
    )


class Projector:
    """Writes requests into `engine`'s read model as the worker would, one advance per event."""

    def __init__(self, engine: Engine, calendar_dir: Path) -> None:
        # Scenarios of past months written today: nothing is held for the insurer's review (late_limit None).
        self.activities = RequestActivities(
            CalendarSource(calendar_dir, engine), ProjectionWriter(engine, EncryptionCodec(TEST_KEYS)), late_limit=None
        )

    def request(
        self,
        request_id: str,
        service_id: str,
        vendor_id: str,
        opened_at: datetime,
        *steps: Step,
        until: datetime | None = None,
    ) -> None:
        """Open the request and send `steps`; with `until`, advance once more at that instant with no
        event, as the workflow's timer does at a warning or due instant (a breach gets recorded)."""
        history = 3
        change = opening(service_id, opened_at, request_id, vendor_id, history_length=history)
        view = change.view
        result = _environment(history).run(self.activities.advance_request, change)
        advances: list[tuple[datetime, RecordedEvent | None]] = [
            (
                step.occurred_at,
                RecordedEvent(
                    EventType(step.type),
                    step.occurred_at,
                    seq,
                    f"coordinator:{vendor_id}",
                    dict(step.data or {}),
                    None,
                    step.occurred_at,
                ),
            )
            for seq, step in enumerate(steps, start=2)
        ]
        if until is not None:
            advances.append((until, None))
        for now, event in advances:
            view = replace(
                view,
                revision=result.revision,
                clocks=result.clocks,
                calendar_fingerprint=result.calendar_fingerprint,
                corrections=[*view.corrections, *result.corrections],
                recomputes=[*view.recomputes, *result.recomputes],
            )
            history += 6
            change = replace(
                change, view=view, now=now, new_event=event, history_length=history, written=result.position
            )
            result = _environment(history).run(self.activities.advance_request, change)
            if event is not None:
                view = replace(view, events=[*view.events, event])


SPECIAL_DRUG = "axa.zhuoyue.special_drug"  # audit: the insurer's, 1 WD [002:349]; fulfil: the vendor's, 3 days


def october_2025(projector: Projector) -> None:
    """October 2025 for vendor-a: the insurer's audit breached and the vendor's delivery met (due 18 Oct);
    one delivery breached and still undelivered at the month's end; one past due but not recorded as
    breached; one due at 24:00 on 31 October (so October's); vendor-b: one delivery met. September: one
    of vendor-a's deliveries breached."""
    _vendor_a_in_october(projector)
    _vendor_b_in_october_and_vendor_a_in_september(projector)


def _vendor_a_in_october(projector: Projector) -> None:
    write = projector.request
    # Materials Thu 9 Oct: the audit is due at 24:00 on Fri 10 Oct; approved Tue 14 Oct, late.
    write(
        "r-late-audit",
        SPECIAL_DRUG,
        "vendor-a",
        at(2025, 10, 9, 9),
        Step("materials_complete", at(2025, 10, 9, 10)),
        Step("eligibility_approved", at(2025, 10, 14, 10)),
        Step("drug_delivered", at(2025, 10, 16, 10)),
    )
    # Approved Tue 21 Oct: delivery due 24:00 Fri 24 Oct; delivered 3 Nov, after the month's end.
    write(
        "r-late-delivery",
        SPECIAL_DRUG,
        "vendor-a",
        at(2025, 10, 20, 9),
        Step("materials_complete", at(2025, 10, 20, 10)),
        Step("eligibility_approved", at(2025, 10, 21, 9)),
        Step("drug_delivered", at(2025, 11, 3, 10)),
    )
    # Approved Tue 28 Oct: delivery due 24:00 Fri 31 Oct (stored as 1 Nov 00:00 +08:00), met.
    write(
        "r-month-end",
        SPECIAL_DRUG,
        "vendor-a",
        at(2025, 10, 27, 9),
        Step("materials_complete", at(2025, 10, 27, 10)),
        Step("eligibility_approved", at(2025, 10, 28, 9)),
        Step("drug_delivered", at(2025, 10, 31, 20)),
    )
    # Approved Wed 22 Oct: delivery due 24:00 Mon 27 Oct (Sat 25 is a rest day); never delivered, and no
    # breach recorded either (a herd's lag): still counting down in the read model, past its instant.
    write(
        "r-still-running",
        SPECIAL_DRUG,
        "vendor-a",
        at(2025, 10, 21, 9),
        Step("materials_complete", at(2025, 10, 21, 10)),
        Step("eligibility_approved", at(2025, 10, 22, 9)),
    )


def _vendor_b_in_october_and_vendor_a_in_september(projector: Projector) -> None:
    write = projector.request
    write(
        "r-other-vendor",
        SPECIAL_DRUG,
        "vendor-b",
        at(2025, 10, 13, 9),
        Step("materials_complete", at(2025, 10, 13, 10)),
        Step("eligibility_approved", at(2025, 10, 14, 9)),
        Step("drug_delivered", at(2025, 10, 15, 9)),
    )
    write(
        "r-september",
        SPECIAL_DRUG,
        "vendor-a",
        at(2025, 9, 8, 9),
        Step("materials_complete", at(2025, 9, 8, 10)),
        Step("eligibility_approved", at(2025, 9, 8, 15)),
        Step("drug_delivered", at(2025, 9, 15, 10)),
    )
