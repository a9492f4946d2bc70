"""Loading a year whose notice sets days in the previous December (issue 21 §3): the load stores that
year too and the open clocks reaching it recompute, through api/calendar_load.py as PUT
/v1/calendar/{year} runs it, on the time-skipping server with the real worker (the clock is moved to
a fixed December, so nothing depends on the day the test runs)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters.catalog_files import default_catalog
from api import calendar_load
from api.schemas import OverlayIn
from api.state import AppState
from harness.servers import start_time_skipping
from runtime.settings import Settings, TemporalSettings
from sla.errors import CalendarDataError
from store.calendar import CalendarSource
from store.keys import Principal, Role
from store.models import RecomputeRow
from tests.data import OVERLAY_2027_BODY
from tests.helpers import at, computed, eventually, finish, open_workflow, rows, send_update
from worker.build import build_worker
from workflows.service_request import ServiceRequestWorkflow

ADMIN = Principal("k-admin", Role.ADMIN, None, None, "test")
# TEST DATA shaped like the brief's example: the 2027 notice makes Saturday 2026-12-26 a working day.
MAKEUP_IN_DECEMBER = date(2026, 12, 26)


async def test_a_notice_setting_a_day_in_the_previous_december_updates_that_year_and_recomputes_open_clocks(
    settings: Settings, engine: Engine, calendar_dir: Path
) -> None:
    own_env = await start_time_skipping()  # this test moves the clock to 2026-12-24; keep it away from others
    try:
        now = await own_env.get_current_time()
        opened = at(2026, 12, 24, 9)
        if now < opened:
            await own_env.sleep(opened - now + timedelta(minutes=1))
        state = AppState(
            settings,
            TemporalSettings(),
            engine,
            default_catalog(),
            CalendarSource(calendar_dir, engine, recheck_seconds=0),
            clock=lambda: opened + timedelta(hours=1),
            _client=own_env.client,
        )
        async with build_worker(own_env.client, settings, engine):
            handle = await open_workflow(
                own_env.client, settings.task_queue, "pingan_health.green_channel.admission", opened
            )
            request_id = handle.id.removeprefix("request-")
            before = next(c for c in (await computed(handle)).clocks if c.clock_id == "arrange_admission")
            # 10 working days from 12-24, 2027 on weekends only: provisional (tests/workflows/test_workflow.py)
            assert before.provisional and before.due_at == at(2027, 1, 8)

            body = OverlayIn.model_validate(
                OVERLAY_2027_BODY
                | {"makeup_workdays": [MAKEUP_IN_DECEMBER.isoformat(), *OVERLAY_2027_BODY["makeup_workdays"]]}
            )
            dry = await calendar_load.load_year(state, ADMIN, 2027, body, dry_run=True)
            assert MAKEUP_IN_DECEMBER not in state.calendars.current().years[2026].makeup_workdays  # a dry run
            [move] = [m for m in dry.moves if m.request_id == request_id and m.clock_id == "arrange_admission"]
            # The 2027 data alone moves it to 01-09 (New Year's Day off); the worked 12-26 takes a day back.
            assert (move.old_due_at, move.new_due_at, move.new_provisional) == (at(2027, 1, 8), at(2027, 1, 8), False)

            loaded = await calendar_load.load_year(state, ADMIN, 2027, body, dry_run=False)
            assert loaded.requests_signalled == 1 and loaded.calendar_fingerprint == dry.calendar_fingerprint
            years = state.calendars.current().years
            assert MAKEUP_IN_DECEMBER in years[2026].makeup_workdays
            assert years[2026].source.title.endswith("；国务院办公厅关于2027年部分节假日安排的通知 (test data)")
            assert years[2026].holidays == CalendarSource(calendar_dir).current().years[2026].holidays  # the rest kept

            [change] = await eventually(lambda: rows(engine, RecomputeRow, request_id=request_id))
            assert (change.old_due_at, change.new_due_at) == (at(2027, 1, 8), at(2027, 1, 8))
            assert (change.old_provisional, change.new_provisional) == (True, False)
            assert change.reason.startswith("calendar 2026 and 2027 loaded by admin:all:k-admin")
            after = next(
                c
                for c in (await handle.query(ServiceRequestWorkflow.get_status)).clocks
                if c.clock_id == "arrange_admission"
            )
            assert not after.provisional and after.due_at == at(2027, 1, 8)

            # Loading the same notice again changes nothing in 2026 (its days are there already).
            again = await calendar_load.load_year(state, ADMIN, 2027, body, dry_run=True)
            assert again.calendar_fingerprint == loaded.calendar_fingerprint

            # A notice for 2029 setting a day in 2028, which has no data: refused, nothing stored.
            later = OverlayIn.model_validate(
                {**OVERLAY_2027_BODY, "holidays": ["2028-12-29", "2029-01-01"], "makeup_workdays": []}
            )
            with pytest.raises(CalendarDataError, match="2028, which has no data loaded") as missing:
                await calendar_load.load_year(state, ADMIN, 2029, later, dry_run=True)
            assert missing.value.rule == "calendar.previous_year_missing"
            await send_update(handle, "customer_cancelled", await own_env.get_current_time())
            await finish(own_env, handle)
    finally:
        await own_env.shutdown()
