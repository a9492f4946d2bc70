"""A request continues as new before Temporal's per-run limits, and nothing of it is lost: its
events, clocks, idempotency keys, read-model position and archive carry on across runs (issue 24)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from clients.history import every_run, verify_replay
from runtime.settings import Settings
from runtime.temporal import build_data_converter
from store.models import EventRow, HistoryArchiveRow, RequestRow
from tests.helpers import at, finish, open_workflow, rows, send_update
from worker.build import build_worker

INPATIENT = "axa.green_channel.inpatient"


def continued(history: WorkflowHistory) -> bool:
    return history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def test_a_request_past_its_updates_per_run_continues_as_new_with_its_whole_state(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    async with build_worker(env.client, settings, engine):
        handle = await open_workflow(env.client, settings.task_queue, INPATIENT, at(2025, 9, 25, 9), updates_per_run=3)
        request_id = handle.id.removeprefix("request-")
        await send_update(handle, "admission_notice_issued", at(2025, 9, 24))
        await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15), key="approval")
        moments = [at(2025, 9, 29, 10) + timedelta(hours=h) for h in range(8)]
        for n, when in enumerate(moments):
            await send_update(handle, "materials_incomplete" if n % 2 == 0 else "materials_complete", when)
            [row] = rows(engine, RequestRow, id=request_id)
            assert row.revision == n + 4  # every event written, in order, whatever run wrote it
        # the key was used three runs ago: still the same event, not a second one
        again = await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15), key="approval")
        assert again.duplicate and again.event_seq == 3
        last = await send_update(handle, "hospital_confirmed", at(2025, 10, 10, 18))
        await send_update(handle, "service_completed", at(2025, 10, 11, 9))
        final = await finish(env, handle)

    runs = await every_run(env.client, handle.id)
    assert len(runs) == 5  # 13 updates, 3 a run: the first four runs continued as new
    assert [continued(h) for _, h in runs] == [True, True, True, True, False]
    assert [e.seq for e in final.events] == list(range(1, 14))
    assert final.status == "completed" and final.revision == 13
    assert next(c for c in last.view.clocks if c.clock_id == "arrange_admission").state == "met"
    [row] = rows(engine, RequestRow, id=request_id)
    assert (row.status, row.revision, row.written_run) == ("completed", 13, 5)
    assert len(rows(engine, EventRow, request_id=request_id)) == 13
    archive = sorted(rows(engine, HistoryArchiveRow, request_id=request_id), key=lambda r: r.run)
    assert [(a.run, a.run_id, a.closing) for a in archive] == [
        (n, run_id, n == 5) for n, (run_id, _) in enumerate(runs, start=1)
    ]
    converter = build_data_converter(settings.keys())
    assert [await verify_replay(h, converter) for _, h in runs] == [None] * 5
