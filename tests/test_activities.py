"""advance_request, called as Temporal calls it (ActivityEnvironment) against a real SQLite read
model: retried, out of order, or refused by a rule, it never counts twice and never regresses."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.advance import RequestActivities
from activities.calendar_source import CalendarSource
from activities.plan import ClockPlanner
from activities.projection import ProjectionWriter
from runtime.codec import EncryptionCodec
from sla.catalog.loader import default_catalog
from store.models import ClockOutcomeRow, EventRow, RequestRow
from tests.helpers import at
from tests.histories import TEST_KEYS
from tests.workflow_helpers import INSURED, POLICY, rows
from workflows.messages import (
    AdvanceInput,
    AdvanceResult,
    EventRecord,
    PersonalData,
    RequestView,
)

GENE_TEST = "axa.zhuoyue.gene_test"


@pytest.fixture
def activities(engine: Engine, calendar_dir: Path) -> RequestActivities:
    return RequestActivities(
        ClockPlanner(CalendarSource(calendar_dir, engine)), ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
    )


def opened(service_id: str, opened_at: datetime) -> tuple[RequestView, AdvanceInput]:
    entry, pinned = default_catalog().get(service_id), default_catalog().pin(service_id)
    view = RequestView(
        request_id="r-activity-test",
        service_id=service_id,
        vendor_id="vendor-reliable",
        insurer_id=entry.insurer,
        status="open",
        opened_at=opened_at,
        revision=0,
        catalog_digest=pinned.digest,
        calendar_fingerprint="",
        events=[EventRecord("request_opened", opened_at, 1, "system", opened_at)],
    )
    first = AdvanceInput(view, pinned.document, entry.version, opened_at, personal=PersonalData(POLICY, INSURED))
    return view, first


def after(view: RequestView, result: AdvanceResult, event: EventRecord | None) -> RequestView:
    """The view as the workflow keeps it once an advance returned."""
    return replace(
        view,
        revision=result.revision,
        events=[*view.events, event] if event else view.events,
        clocks=result.clocks,
        calendar_fingerprint=result.calendar_fingerprint,
        corrections=[*view.corrections, *result.corrections],
        recomputes=[*view.recomputes, *result.recomputes],
    )


def event(seq: int, type: str, occurred_at: datetime, **data: str) -> EventRecord:
    return EventRecord(type, occurred_at, seq, "coordinator:vendor-reliable", occurred_at, dict(data))


async def test_a_retried_advance_writes_once_and_an_older_one_never_regresses(
    activities: RequestActivities, engine: Engine
) -> None:
    run = ActivityEnvironment().run
    view, first = opened(GENE_TEST, at(2025, 9, 20, 9))
    created = await run(activities.advance_request, first)
    assert created.revision == 1
    assert await run(activities.advance_request, first) == created  # Temporal retried it
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == 1 and request.pinned_terms == first.catalog_document
    assert INSURED.id_number not in request.sealed_personal_data

    view = after(view, created, None)
    confirmed = event(2, "customer_confirmed", at(2025, 9, 26, 10), appointment_at="2025-10-10T09:00:00+08:00")
    second = AdvanceInput(view, first.catalog_document, first.catalog_version, at(2025, 9, 26, 10), confirmed)
    moved = await run(activities.advance_request, second)
    assert moved.revision == 2
    # The first advance delivered late (a retry that outlived the next change): the row stays at 2.
    await run(activities.advance_request, first)
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == 2
    assert sorted(r.seq for r in rows(engine, EventRow, request_id=view.request_id)) == [1, 2]

    view = after(view, moved, confirmed)
    closing = event(3, "service_completed", at(2025, 10, 10, 12))
    third = AdvanceInput(view, first.catalog_document, first.catalog_version, at(2025, 10, 10, 12), closing)
    closed = await run(activities.advance_request, third)
    await run(activities.advance_request, third)
    outcomes = rows(engine, ClockOutcomeRow, request_id=view.request_id)
    assert outcomes, "closing the service closes its clocks"
    assert {o.clock_id for o in outcomes} == {c.clock_id for c in closed.clocks if c.outcome}
    assert len(outcomes) == len({o.clock_id for o in outcomes})  # one row per clock, whatever the retries
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.status == "completed" and request.revision == closed.revision == 3


async def test_a_customer_window_refusal_is_not_retried_and_writes_nothing(
    activities: RequestActivities, engine: Engine
) -> None:
    run = ActivityEnvironment().run
    view, first = opened(GENE_TEST, at(2025, 9, 20, 9))
    view = after(view, await run(activities.advance_request, first), None)
    confirmed = event(2, "customer_confirmed", at(2025, 9, 26, 10), appointment_at="2025-10-10T09:00:00+08:00")
    change = AdvanceInput(view, first.catalog_document, first.catalog_version, at(2025, 9, 26, 10), confirmed)
    view = after(view, await run(activities.advance_request, change), confirmed)

    late = event(3, "customer_cancelled", at(2025, 9, 30, 16, 30))  # after the 2-working-day cut-off
    refused = AdvanceInput(view, first.catalog_document, first.catalog_version, at(2025, 9, 30, 16, 30), late)
    with pytest.raises(ApplicationError) as failure:
        await run(activities.advance_request, refused)
    assert failure.value.non_retryable and failure.value.type == "CustomerWindowError"
    assert failure.value.details[0]["source"] == "[002:311] (catalog axa.zhuoyue.gene_test)"
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == view.revision == 2 and request.status == "open"
    assert sorted(r.seq for r in rows(engine, EventRow, request_id=view.request_id)) == [1, 2]
