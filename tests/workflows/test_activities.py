"""advance_request, called as Temporal calls it (ActivityEnvironment) against a real SQLite read
model: retried, late, from an abandoned workflow-task attempt, or refused by a rule, the stored
state is always the workflow's committed state, and the tallies always equal their rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.exc import StatementError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.advance import RequestActivities
from activities.projection import Change, ProjectionWriter
from harness.keys import TEST_KEYS
from harness.projected import opening
from harness.readmodel_checks import assert_tallies_exact
from runtime.codec import EncryptionCodec
from sla.engine.model import RecordedEvent
from sla.events import EventType
from store.calendar import CalendarSource
from store.db import writer_lock
from store.group_commit import GroupCommit
from store.models import ClockOutcomeRow, ClockRow, EventRow, RequestRow
from tests.data import CANARY_INSURED
from tests.helpers import at, rows
from workflows.messages import AdvanceInput, AdvanceResult, RequestView

GENE_TEST = "axa.zhuoyue.gene_test"
INPATIENT = "axa.green_channel.inpatient"


@pytest.fixture
def activities(engine: Engine, calendar_dir: Path) -> RequestActivities:
    return RequestActivities(CalendarSource(calendar_dir, engine), ProjectionWriter(engine, EncryptionCodec(TEST_KEYS)))


def attempt(seconds: int = 0) -> ActivityEnvironment:
    """An activity environment for one workflow-task attempt, scheduled `seconds` after a fixed instant."""
    environment = ActivityEnvironment()
    scheduled = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    environment.info = replace(environment.info, scheduled_time=scheduled, current_attempt_scheduled_time=scheduled)
    return environment


def opened(
    service_id: str, opened_at: datetime, request_id: str = "r-activity-test"
) -> tuple[RequestView, AdvanceInput]:
    first = opening(service_id, opened_at, request_id, "vendor-reliable")
    return first.view, first


def after(view: RequestView, result: AdvanceResult, event: RecordedEvent | None) -> RequestView:
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


def next_change(
    view: RequestView,
    first: AdvanceInput,
    written: AdvanceResult,
    now: datetime,
    event: RecordedEvent | None,
    history: int,
) -> AdvanceInput:
    return AdvanceInput(
        view=view,
        catalog_document=first.catalog_document,
        catalog_version=first.catalog_version,
        now=now,
        new_event=event,
        personal=first.personal,
        history_length=history,
        written=written.position,
    )


def event(seq: int, type: str, occurred_at: datetime, **data: str) -> RecordedEvent:
    return RecordedEvent(
        EventType(type), occurred_at, seq, "coordinator:vendor-reliable", dict(data), None, occurred_at
    )


def test_a_retried_advance_writes_once_and_an_older_one_never_regresses(
    activities: RequestActivities, engine: Engine
) -> None:
    run = attempt().run
    view, first = opened(GENE_TEST, at(2025, 9, 20, 9))
    created = run(activities.advance_request, first)
    assert created.revision == 1
    assert run(activities.advance_request, first) == created  # Temporal retried it
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == 1 and request.pinned_terms == first.catalog_document
    assert CANARY_INSURED.id_number not in request.sealed_personal_data

    view = after(view, created, None)
    confirmed = event(2, "customer_confirmed", at(2025, 9, 26, 10), appointment_at="2025-10-10T09:00:00+08:00")
    moved = run(activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 10), confirmed, 9))
    assert moved.revision == 2
    # The first advance delivered late (a retry that outlived the next change): the row stays at 2.
    run(activities.advance_request, first)
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == 2
    assert sorted(r.seq for r in rows(engine, EventRow, request_id=view.request_id)) == [1, 2]

    view = after(view, moved, confirmed)
    closing = event(3, "service_completed", at(2025, 10, 10, 12))
    third = next_change(view, first, moved, at(2025, 10, 10, 12), closing, 15)
    closed = run(activities.advance_request, third)
    run(activities.advance_request, third)
    outcomes = rows(engine, ClockOutcomeRow, request_id=view.request_id)
    assert outcomes, "closing the service closes its clocks"
    assert {o.clock_id for o in outcomes} == {c.clock_id for c in closed.clocks if c.outcome}
    assert len(outcomes) == len({o.clock_id for o in outcomes})  # one row per clock, whatever the retries
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.status == "completed" and request.revision == closed.revision == 3
    assert request.closed_at == at(2025, 10, 10, 12)  # the closing event's effective time
    assert_tallies_exact(engine)


def test_the_committed_attempt_of_a_workflow_task_replaces_what_an_abandoned_attempt_wrote(
    activities: RequestActivities, engine: Engine
) -> None:
    # A workflow task's attempt 1 ran an update for event X and wrote it; the task then failed, and
    # attempt 2 (same history length, scheduled later) ran an update for event Y instead. Temporal
    # commits attempt 2: the read model must hold Y as seq 2, never X, whatever order the writes land.
    view, first = opened(INPATIENT, at(2025, 9, 25, 9))
    created = attempt().run(activities.advance_request, first)
    view = after(view, created, None)
    x = event(2, "admission_notice_issued", at(2025, 9, 24, 9))
    y = event(2, "materials_incomplete", at(2025, 9, 26, 11))
    abandoned = attempt(10).run(
        activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 12), x, 9)
    )
    committed = attempt(20).run(
        activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 12), y, 9)
    )
    assert abandoned.revision == committed.revision == 2
    # The abandoned attempt's activity, still running somewhere, writes again after the commit: ignored.
    attempt(10).run(activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 12), x, 9))
    [stored] = rows(engine, EventRow, request_id=view.request_id, seq=2)
    assert stored.type == "materials_incomplete"
    assert_tallies_exact(engine)

    # The next change comes from the committed state and writes incrementally on top of it.
    view = after(view, committed, y)
    approved = event(3, "eligibility_approved", at(2025, 9, 27, 10))
    third = attempt(30).run(
        activities.advance_request, next_change(view, first, committed, at(2025, 9, 27, 10), approved, 15)
    )
    assert [e.type for e in sorted(rows(engine, EventRow, request_id=view.request_id), key=lambda e: e.seq)] == [
        "request_opened",
        "materials_incomplete",
        "eligibility_approved",
    ]
    assert rows(engine, RequestRow, id=view.request_id)[0].revision == third.revision == 3
    assert_tallies_exact(engine)


def test_a_change_on_top_of_an_abandoned_write_rewrites_the_request_whole(
    activities: RequestActivities, engine: Engine
) -> None:
    # The abandoned attempt wrote last and nothing replaced it (the committed attempt's write was lost
    # with its worker). The next change sees the stored state is not the one the workflow committed,
    # and rewrites every row of the request; the tallies take back what the abandoned write added.
    view, first = opened(INPATIENT, at(2025, 9, 25, 9))
    created = attempt().run(activities.advance_request, first)
    view = after(view, created, None)
    cancelled = event(2, "customer_cancelled", at(2025, 9, 26, 9))
    attempt(10).run(activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 12), cancelled, 9))
    assert rows(engine, RequestRow, id=view.request_id)[0].status == "cancelled"
    notice = event(2, "admission_notice_issued", at(2025, 9, 24, 9))
    # The committed attempt's result reached history but its write did not land (an older position is
    # refused, which leaves the stored rows as the abandoned attempt left them).
    committed_change = replace(next_change(view, first, created, at(2025, 9, 26, 12), notice, 9), history_length=1)
    committed = attempt(20).run(activities.advance_request, committed_change)
    assert rows(engine, RequestRow, id=view.request_id)[0].status == "cancelled"
    view = after(view, committed, notice)
    approved = event(3, "eligibility_approved", at(2025, 9, 26, 15))
    attempt(30).run(activities.advance_request, next_change(view, first, committed, at(2025, 9, 26, 15), approved, 15))
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.status == "open" and request.revision == 3
    assert [e.type for e in sorted(rows(engine, EventRow, request_id=view.request_id), key=lambda e: e.seq)] == [
        "request_opened",
        "admission_notice_issued",
        "eligibility_approved",
    ]
    assert {c.state for c in rows(engine, ClockRow, request_id=view.request_id)} != {"cancelled"}
    assert_tallies_exact(engine)


def test_a_write_of_a_later_run_is_newer_than_any_of_the_run_before_although_its_history_restarts(
    activities: RequestActivities, engine: Engine
) -> None:
    # A request that continued as new: run 1 wrote at history length 4,000; run 2's first write comes
    # from a history of 5 events. By history length alone it would be refused as older, and the read
    # model would stop at run 1 for good; the run leads the position, so it lands.
    view, first = opened(INPATIENT, at(2025, 9, 25, 9))
    created = attempt().run(activities.advance_request, replace(first, history_length=4000))
    view = after(view, created, None)
    notice = event(2, "admission_notice_issued", at(2025, 9, 24, 9))
    change = replace(next_change(view, first, created, at(2025, 9, 26, 12), notice, 5), run=2)
    continued = attempt(10).run(activities.advance_request, change)
    assert continued.position is not None and continued.position.run == 2
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert (request.revision, request.written_run, request.written_history_length) == (2, 2, 5)
    assert [e.type for e in sorted(rows(engine, EventRow, request_id=view.request_id), key=lambda e: e.seq)] == [
        "request_opened",
        "admission_notice_issued",
    ]
    # run 1's write delivered late (its retry outlived the handover): run 2's state stays
    attempt(20).run(activities.advance_request, replace(first, history_length=4000))
    assert rows(engine, RequestRow, id=view.request_id)[0].revision == 2
    assert_tallies_exact(engine)


def test_a_customer_window_refusal_is_not_retried_and_writes_nothing(
    activities: RequestActivities, engine: Engine
) -> None:
    run = attempt().run
    view, first = opened(GENE_TEST, at(2025, 9, 20, 9))
    created = run(activities.advance_request, first)
    view = after(view, created, None)
    confirmed = event(2, "customer_confirmed", at(2025, 9, 26, 10), appointment_at="2025-10-10T09:00:00+08:00")
    moved = run(activities.advance_request, next_change(view, first, created, at(2025, 9, 26, 10), confirmed, 9))
    view = after(view, moved, confirmed)

    late = event(3, "customer_cancelled", at(2025, 9, 30, 16, 30))  # after the 2-working-day cut-off
    with pytest.raises(ApplicationError) as failure:
        run(activities.advance_request, next_change(view, first, moved, at(2025, 9, 30, 16, 30), late, 15))
    assert failure.value.non_retryable and failure.value.type == "CustomerWindowError"
    assert failure.value.details[0]["source"] == "[002:311] (catalog axa.zhuoyue.gene_test)"
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == view.revision == 2 and request.status == "open"
    assert sorted(r.seq for r in rows(engine, EventRow, request_id=view.request_id)) == [1, 2]
    assert_tallies_exact(engine)


class CapturingWriter(ProjectionWriter):
    """The writer's changes, kept instead of written: to hand the real writer several at once."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, EncryptionCodec(TEST_KEYS))
        self.changes: list[Change] = []

    def write(self, change: Change) -> bool:
        self.changes.append(change)
        return True


def planned_openings(engine: Engine, calendar_dir: Path, count: int) -> list[Change]:
    capturing = CapturingWriter(engine)
    planner = RequestActivities(CalendarSource(calendar_dir, engine), capturing)
    for index in range(count):
        attempt().run(planner.advance_request, opened(INPATIENT, at(2025, 9, 25, 9), f"r-grouped-{index}")[1])
    return capturing.changes


def test_one_failing_write_of_a_grouped_transaction_fails_alone_and_the_others_land(
    engine: Engine, calendar_dir: Path
) -> None:
    first, broken, third = planned_openings(engine, calendar_dir, 3)
    unstorable = replace(broken.after.events[0], data={"note": object()})  # JSON cannot hold it
    broken = replace(broken, after=replace(broken.after, events=[unstorable]))
    writer = ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
    outcomes = writer.write_all([first, broken, third])
    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], StatementError) and "not JSON serializable" in str(outcomes[1])
    assert {r.id for r in rows(engine, RequestRow)} == {first.after.request_id, third.after.request_id}
    assert_tallies_exact(engine)


def test_two_changes_of_one_request_in_one_group_land_in_their_history_order(
    engine: Engine, calendar_dir: Path
) -> None:
    capturing = CapturingWriter(engine)
    planner = RequestActivities(CalendarSource(calendar_dir, engine), capturing)
    view, first = opened(INPATIENT, at(2025, 9, 25, 9))
    created = attempt().run(planner.advance_request, first)
    notice = event(2, "admission_notice_issued", at(2025, 9, 24, 9))
    attempt(10).run(
        planner.advance_request, next_change(after(view, created, None), first, created, at(2025, 9, 26, 12), notice, 9)
    )
    opening_change, notice_change = capturing.changes
    writer = ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
    assert writer.write_all([notice_change, opening_change]) == [True, True]
    [request] = rows(engine, RequestRow, id=view.request_id)
    assert request.revision == 2 and request.written_history_length == 9
    assert sorted(r.seq for r in rows(engine, EventRow, request_id=view.request_id)) == [1, 2]
    assert_tallies_exact(engine)


def test_writes_that_arrive_while_a_commit_is_running_share_the_next_commit(engine: Engine, calendar_dir: Path) -> None:
    changes = planned_openings(engine, calendar_dir, 8)
    writer = ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
    commits: list[int] = []
    sqlalchemy_event.listen(engine, "commit", lambda _connection: commits.append(1))
    sqlite_writer = writer_lock(engine)
    assert sqlite_writer is not None
    with sqlite_writer, ThreadPoolExecutor(len(changes)) as pool:  # the first batch waits for this lock
        written = [pool.submit(writer.write, c) for c in changes]
        while writer.waiting() < len(changes):  # a wait for the threads, not for a time
            time.sleep(0.001)
        sqlite_writer.release()  # the batch running commits; the writes behind it go in one more
        assert [w.result() for w in written] == [True] * len(changes)
        sqlite_writer.acquire()  # for the with block to release
    assert 1 <= len(commits) <= 2
    assert len(rows(engine, RequestRow)) == len(changes)
    assert_tallies_exact(engine)


def test_a_grouped_batch_that_fails_as_a_whole_fails_each_write_it_held() -> None:
    def commit_fails(items: Sequence[str]) -> list[bool | BaseException]:
        raise OSError(f"disk full after {len(items)} writes")

    group: GroupCommit[str, bool] = GroupCommit(commit_fails)
    with pytest.raises(OSError, match="disk full after 1 writes"):
        group.submit("a change")
    assert group.waiting() == 0
