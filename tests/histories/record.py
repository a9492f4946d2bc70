"""Record the replay corpus: python -m tests.histories.record

Runs representative requests on the time-skipping server with the real worker and saves their
histories (payloads encrypted with the public TEST key) as JSON beside this file. Re-record only
on purpose: the point of the corpus is that histories written by older code still replay.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from runtime.process import exit_after_temporal
from runtime.settings import Settings
from store.db import init_schema, make_engine
from tests.conftest import start_time_skipping
from tests.helpers import at
from tests.histories import TEST_KEYS_SETTING
from tests.test_calendar import OVERLAY_2027
from tests.workflow_helpers import finish, open_test_request, send
from worker.build import build_worker
from workflows.messages import CalendarChanged
from workflows.service_request import ServiceRequestWorkflow

HERE = Path(__file__).parent
INPATIENT = "axa.green_channel.inpatient"
Scenario = Callable[[WorkflowEnvironment, str, Path], Awaitable[Any]]


async def met_with_restart(env: WorkflowEnvironment, queue: str, _: Path) -> Any:
    handle = await open_test_request(env.client, queue, INPATIENT, at(2025, 9, 25, 9))
    for event, when in [
        ("admission_notice_issued", at(2025, 9, 24)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
        ("materials_incomplete", at(2025, 9, 30, 10)),
        ("materials_complete", at(2025, 10, 9, 10)),
        ("hospital_confirmed", at(2025, 10, 22, 18)),
        ("service_completed", at(2025, 10, 23, 9)),
    ]:
        await send(handle, event, when)
    return handle


async def breached_live(env: WorkflowEnvironment, queue: str, _: Path) -> Any:
    now = await env.get_current_time()
    handle = await open_test_request(env.client, queue, "zhongan.second_opinion.domestic", now)
    await send(handle, "materials_complete", now)
    await env.sleep(timedelta(days=12))  # review (1 wd) and opinion (5 wd) both breach on timers
    later = await env.get_current_time()
    await send(handle, "eligibility_approved", later)
    await send(handle, "report_issued", later)
    await send(handle, "service_completed", later)
    return handle


async def recomputed(env: WorkflowEnvironment, queue: str, calendar_dir: Path) -> Any:
    now = await env.get_current_time()
    if now < at(2026, 12, 24, 9):
        await env.sleep(at(2026, 12, 24, 9) - now + timedelta(minutes=1))
    handle = await open_test_request(env.client, queue, "pingan_health.green_channel.admission", at(2026, 12, 24, 9))
    (calendar_dir / "2027.yaml").write_text(OVERLAY_2027.read_text())
    await handle.signal(ServiceRequestWorkflow.calendar_changed, CalendarChanged("2027 notice loaded (test data)"))
    await asyncio.sleep(1)
    await send(handle, "customer_cancelled", await env.get_current_time())
    return handle


async def cancelled(env: WorkflowEnvironment, queue: str, _: Path) -> Any:
    handle = await open_test_request(env.client, queue, "axa.zhuoyue.mdt", at(2025, 11, 3, 9))
    await send(handle, "materials_complete", at(2025, 11, 3, 10), key="k-1")
    await send(handle, "customer_cancelled", at(2025, 11, 4, 10))
    return handle


SCENARIOS: dict[str, Scenario] = {
    "met_restarted": met_with_restart,
    "breached": breached_live,
    "cancelled": cancelled,
    "recomputed": recomputed,  # last: it moves the test server's clock to late December
}


async def main() -> None:
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            with tempfile.TemporaryDirectory() as tmp:
                calendar_dir = Path(tmp) / "calendars"
                calendar_dir.mkdir()
                settings = Settings(
                    database_url=f"sqlite:///{tmp}/db.sqlite",
                    calendar_dir=calendar_dir,
                    payload_keys=TEST_KEYS_SETTING,
                    task_queue=f"record-{name}",
                )
                engine = make_engine(settings.database_url)
                init_schema(engine)
                async with build_worker(env.client, settings, engine):
                    handle = await scenario(env, settings.task_queue, calendar_dir)
                    await finish(env, handle)
                history = await handle.fetch_history()
                (HERE / f"{name}.json").write_text(history.to_json())
                print(f"{name}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    exit_after_temporal(0)
