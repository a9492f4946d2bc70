"""ServiceRequestWorkflow on Temporal's time-skipping test server, with the real worker,
activities and a real SQLite read model."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.calendar_files import default_calendar, load_overlay_file
from harness.servers import start_time_skipping
from runtime.codec import ENCODING
from runtime.settings import Settings
from store.calendar import store_overlay
from store.models import ClockOutcomeRow, ClockRow, HistoryArchiveRow, RecomputeRow, RequestRow, ThresholdRow
from tests.data import CANARY_INSURED, CANARY_POLICY, OVERLAY_2027
from tests.helpers import CST, at, computed, eventually, finish, open_workflow, rows, send_update
from worker.build import build_worker
from workflows.messages import CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

INPATIENT = "axa.green_channel.inpatient"


async def accepted_updates(handle) -> int:  # type: ignore[no-untyped-def]
    history = await handle.fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events)


def clock(view, clock_id):  # type: ignore[no-untyped-def]
    return next(c for c in view.clocks if c.clock_id == clock_id)


async def test_an_axa_inpatient_admission_across_national_day_2025_is_met_in_its_restarted_cycle(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    # 004 lines 67, 90. Notice 9-24, audit passed 9-26 15:00 (start), materials incomplete 9-30 (pause),
    # complete Thu 10-09 10:00 (restart): 10-10, 10-11 (Sat, make-up), 10-13..17, 10-20, 21, 22 -> due 10-23 00:00.
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9))
        await send_update(handle, "admission_notice_issued", at(2025, 9, 24))
        # 004:67: the start needs complete materials
        await send_update(handle, "materials_complete", at(2025, 9, 25, 10))
        await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15))
        await send_update(handle, "materials_incomplete", at(2025, 9, 30, 10))
        await send_update(handle, "materials_complete", at(2025, 10, 9, 10))
        result = await send_update(handle, "hospital_confirmed", at(2025, 10, 22, 18))
        admission = clock(result.view, "arrange_admission")
        assert (admission.state, admission.due_at, admission.cycle) == ("met", at(2025, 10, 23), 2)
        await send_update(handle, "service_completed", at(2025, 10, 23, 9))
        final = await finish(env, handle)
    assert final.status == "completed"
    [outcome] = rows(engine, ClockOutcomeRow, request_id=final.request_id)
    assert (outcome.outcome, outcome.outcome_at, outcome.due_at) == ("met", at(2025, 10, 22, 18), at(2025, 10, 23))
    warnings = sorted((t.fraction, t.fired_at) for t in rows(engine, ThresholdRow, request_id=final.request_id))
    # thresholds of the restarted cycle: 5 wd -> 10-16 00:00, 8 wd -> 10-21 00:00 (exact instants)
    assert warnings == [(0.5, at(2025, 10, 16)), (0.8, at(2025, 10, 21))]
    archive = rows(engine, HistoryArchiveRow, request_id=final.request_id)
    assert archive and archive[0].event_count > 10


async def test_axa_inpatient_breach_is_recorded_at_due_and_the_late_stop_says_how_late(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9))
        for event, when in [
            ("admission_notice_issued", at(2025, 9, 24)),
            ("eligibility_approved", at(2025, 9, 26, 15)),
            ("materials_incomplete", at(2025, 9, 30, 10)),
            ("materials_complete", at(2025, 10, 9, 10)),
        ]:
            result = await send_update(handle, event, when)
        # processed in 2026, yet the breach is recorded at its due instant
        assert clock(result.view, "arrange_admission").breached_at == at(2025, 10, 23)
        [breach] = rows(engine, ClockOutcomeRow, request_id=result.view.request_id)
        assert (breach.outcome, breach.outcome_at) == ("breached", at(2025, 10, 23))
        late = await send_update(handle, "hospital_confirmed", at(2025, 10, 24, 10))
        assert clock(late.view, "arrange_admission").late_by_seconds == 34 * 3600
        await send_update(handle, "service_completed", at(2025, 10, 25, 9))
        await finish(env, handle)
    [outcome] = rows(engine, ClockOutcomeRow, request_id=result.view.request_id)
    assert (outcome.outcome, outcome.late_by_seconds, outcome.corrected) == ("breached", 34 * 3600, False)


async def test_live_timers_fire_the_warning_and_the_breach_at_their_exact_instants(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    calendar = default_calendar()
    async with build_worker(env.client, settings, engine):
        now = (await env.get_current_time()).astimezone(CST)
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, now)
        await send_update(handle, "admission_notice_issued", now)
        await send_update(handle, "materials_complete", now)  # 004:67: the start needs complete materials
        result = await send_update(handle, "eligibility_approved", now)
        request_id = result.view.request_id
        due = calendar.due_working_days(now, 10).due_at
        half, _ = calendar.add_working_time(
            calendar.due_working_days(now, 1).due_at - timedelta(days=1), timedelta(days=5)
        )
        admission = clock(result.view, "arrange_admission")
        assert admission.due_at == due and admission.next_wake_at == half

        await env.sleep(half - now - timedelta(minutes=1))  # one minute before the 50% warning: nothing yet
        assert rows(engine, ThresholdRow, request_id=request_id) == []
        await env.sleep(timedelta(minutes=2))
        fired = await eventually(lambda: rows(engine, ThresholdRow, request_id=request_id))
        assert [(t.fraction, t.fired_at) for t in fired] == [(0.5, half)]

        await env.sleep(due - (await env.get_current_time()) + timedelta(seconds=5))
        breach = await eventually(lambda: rows(engine, ClockOutcomeRow, request_id=request_id))
        assert (breach[0].outcome, breach[0].outcome_at) == ("breached", due)
        status = await handle.query(ServiceRequestWorkflow.get_status)
        assert clock(status, "arrange_admission").state == "breached"
        late = await send_update(handle, "hospital_confirmed", await env.get_current_time())
        assert clock(late.view, "arrange_admission").late_by_seconds is not None
        await send_update(handle, "service_completed", await env.get_current_time())
        final = await finish(env, handle)
    assert final.status == "completed"
    assert [r.outcome for r in rows(engine, ClockOutcomeRow, request_id=request_id)] == ["breached"]


async def test_pause_and_resume_keep_elapsed_and_a_retroactive_admission_notice_moves_the_start(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        advance = await open_workflow(
            env.client, settings.task_queue, "axa.zhuoyue.advance_payment", at(2025, 9, 23, 9)
        )
        await send_update(advance, "materials_complete", at(2025, 9, 24, 10))
        paused = await send_update(advance, "investigation_required", at(2025, 9, 26, 12))
        assert clock(paused.view, "arrange_advance").elapsed_seconds == int(1.5 * 86400)
        resumed = await send_update(advance, "investigation_concluded", at(2025, 10, 9, 9))
        # 3.5 working days left from Thu 10-09 09:00 -> Mon 10-13 21:00 (see the engine test)
        assert clock(resumed.view, "arrange_advance").due_at == at(2025, 10, 13, 21)

        # Retroactive: the notice is sent after the approval but dated earlier; the start is the later one.
        inpatient = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9))
        # 004:67: the start needs complete materials
        await send_update(inpatient, "materials_complete", at(2025, 9, 25, 10))
        await send_update(inpatient, "eligibility_approved", at(2025, 9, 26, 15))
        late_notice = await send_update(inpatient, "admission_notice_issued", at(2025, 9, 29, 8))
        admission = clock(late_notice.view, "arrange_admission")
        # start Mon 9-29 08:00: 9-30, 10-09, 10, 11 (Sat), 13..17, 20 -> due 10-21 00:00
        assert (admission.started_at, admission.due_at) == (at(2025, 9, 29, 8), at(2025, 10, 21))
        earlier = await send_update(inpatient, "materials_incomplete", at(2025, 9, 27, 10))  # before the start: ignored
        assert clock(earlier.view, "arrange_admission").due_at == at(2025, 10, 21)


async def test_an_mdt_request_runs_its_two_clocks_one_after_the_other_and_both_are_met(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        mdt = await open_workflow(env.client, settings.task_queue, "axa.zhuoyue.mdt", at(2025, 9, 12, 9))
        await send_update(mdt, "materials_complete", at(2025, 9, 15, 10))
        arranged = await send_update(mdt, "expert_confirmed", at(2025, 9, 26, 11))
        assert clock(arranged.view, "arrange_consultation").state == "met"
        assert clock(arranged.view, "issue_report").state == "pending"
        held = await send_update(mdt, "consultation_held", at(2025, 10, 9, 14))
        assert clock(held.view, "issue_report").due_at == at(2025, 10, 23)
        await send_update(mdt, "report_issued", at(2025, 10, 22, 17))
        await send_update(mdt, "service_completed", at(2025, 10, 23, 9))
        final = await finish(env, mdt)
    outcomes = {r.clock_id: r.outcome for r in rows(engine, ClockOutcomeRow, request_id=final.request_id)}
    assert outcomes == {"arrange_consultation": "met", "issue_report": "met"}


async def test_a_48_hour_clock_is_exact_and_3_calendar_days_ending_on_a_holiday_run_to_the_next_working_day(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        pingan = await open_workflow(
            env.client, settings.task_queue, "pingan_health.green_channel.admission", at(2025, 9, 30, 18, 30)
        )
        status = await computed(pingan)
        assert clock(status, "inform_status").due_at == at(2025, 10, 2, 18, 30)
        drug = await open_workflow(env.client, settings.task_queue, "axa.zhuoyue.special_drug", at(2025, 9, 28, 8))
        await send_update(drug, "materials_complete", at(2025, 9, 28, 9))
        approved = await send_update(drug, "eligibility_approved", at(2025, 9, 29, 10))
        # 9-30, 10-01, 10-02: the last day is National Day -> 24:00 of the next working day 10-09
        assert clock(approved.view, "fulfil").due_at == at(2025, 10, 10)


async def test_a_provisional_deadline_is_recomputed_when_the_2027_overlay_arrives(
    settings: Settings, engine: Engine, calendar_dir: Path
) -> None:
    own_env = await start_time_skipping()  # this test moves the clock to 2026-12-24; keep it away from others
    try:
        now = await own_env.get_current_time()
        opened = at(2026, 12, 24, 9)
        if now < opened:
            await own_env.sleep(opened - now + timedelta(minutes=1))
        async with build_worker(own_env.client, settings, engine):
            handle = await open_workflow(
                own_env.client, settings.task_queue, "pingan_health.green_channel.admission", opened
            )
            before = clock(await computed(handle), "arrange_admission")
            assert before.provisional and before.due_at == at(2027, 1, 8)

            # As PUT /v1/calendar/2027 does: store the year (a new generation), then signal with it.
            generation = store_overlay(engine, load_overlay_file(OVERLAY_2027), "test", opened)
            await handle.signal(
                ServiceRequestWorkflow.calendar_changed, CalendarChanged("2027 notice loaded (test data)", generation)
            )

            def recomputed():  # type: ignore[no-untyped-def]
                return rows(engine, RecomputeRow, request_id=before and handle.id.removeprefix("request-"))

            [change] = await eventually(recomputed)
            assert (change.old_due_at, change.new_due_at) == (at(2027, 1, 8), at(2027, 1, 9))
            assert (change.old_provisional, change.new_provisional) == (True, False)
            assert change.reason == "2027 notice loaded (test data)"
            after = clock(await handle.query(ServiceRequestWorkflow.get_status), "arrange_admission")
            assert not after.provisional and after.due_at == at(2027, 1, 9)
            [row] = rows(engine, ClockRow, request_id=handle.id.removeprefix("request-"), clock_id="arrange_admission")
            assert not row.provisional
            await send_update(handle, "customer_cancelled", await own_env.get_current_time())
            await finish(own_env, handle)
    finally:
        await own_env.shutdown()


async def test_an_idempotency_key_applies_an_event_once(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9))
        first = await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15), key="evt-1")
        again = await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15), key="evt-1")
        assert (first.event_seq, first.duplicate) == (2, False)
        assert (again.event_seq, again.duplicate) == (2, True)
        assert len(again.view.events) == 2
        with pytest.raises(WorkflowUpdateFailedError) as reused:
            await send_update(handle, "admission_notice_issued", at(2025, 9, 24), key="evt-1")
        assert "already used for a different event" in str(reused.value.cause)


@pytest.mark.parametrize(
    ("event", "offset", "error_type", "rule"),
    [
        ("hospital_booked", timedelta(0), "UnknownEventError", "event.unknown"),
        ("report_issued", timedelta(0), "EventNotAcceptedError", "event.not_accepted_by_service"),
        ("hospital_confirmed", timedelta(days=1), "FutureEventError", "event.occurred_in_future"),
        ("service_completed", timedelta(0), "EventNotAllowedError", "event.completion_with_running_clocks"),
        ("customer_cancelled", timedelta(0), "CustomerWindowError", "customer_window.no_cancel_after_acceptance"),
    ],
)
async def test_an_invalid_event_is_rejected_with_its_rule_and_history_is_unchanged(
    env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    event: str,
    offset: timedelta,
    error_type: str,
    rule: str,
) -> None:
    async with build_worker(env.client, settings, engine):
        now = await env.get_current_time()
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, now)
        await send_update(handle, "admission_notice_issued", now)
        await send_update(handle, "materials_complete", now)  # 004:67: the start needs complete materials
        await send_update(handle, "eligibility_approved", now)  # the clock runs: 10 working days from now
        accepted_before = await accepted_updates(handle)
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await send_update(handle, event, now + offset)
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == error_type
        assert cause.details[0]["rule"] == rule
        # a rejected update is never written: no accepted update was added for it
        assert await accepted_updates(handle) == accepted_before
        view = await handle.query(ServiceRequestWorkflow.get_status)
        assert len(view.events) == 4


async def test_a_customer_window_needing_the_calendar_fails_the_update_with_rule_and_source(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, "axa.zhuoyue.gene_test", at(2025, 9, 20, 9))
        await send_update(
            handle, "customer_confirmed", at(2025, 9, 26, 10), data={"appointment_at": "2025-10-10T09:00:00+08:00"}
        )
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await send_update(handle, "customer_cancelled", at(2025, 9, 30, 16, 30))
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "CustomerWindowError"
        assert cause.details[0]["source"] == "[002:311] (catalog axa.zhuoyue.gene_test)"
        view = await handle.query(ServiceRequestWorkflow.get_status)
        assert [e.type for e in view.events] == ["request_opened", "customer_confirmed"]
        ok = await send_update(handle, "customer_cancelled", at(2025, 9, 30, 15))
        assert ok.view.status == "cancelled"
        await finish(env, handle)


MARKER = EventType.EVENT_TYPE_MARKER_RECORDED


async def test_personal_data_never_appears_in_clear(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9))
        await send_update(handle, "customer_cancelled", at(2025, 9, 25, 10))
        await finish(env, handle)
    raw = (await handle.fetch_history()).to_json()  # payloads as the server stores them
    for canary in (CANARY_INSURED.name, CANARY_INSURED.id_number, CANARY_POLICY):
        assert canary not in raw
        assert canary not in handle.id
    # The local activities' results (their markers' "result") are sealed like every other payload.
    history = await handle.fetch_history()
    markers = [e.marker_recorded_event_attributes for e in history.events if e.event_type == MARKER]
    results = [p for m in markers for p in m.details["result"].payloads]
    assert len(results) >= 2 and all(p.metadata["encoding"] == ENCODING for p in results)
    [request] = rows(engine, RequestRow, id=handle.id.removeprefix("request-"))
    assert CANARY_INSURED.id_number not in request.sealed_personal_data
