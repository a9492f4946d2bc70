"""Record the replay corpus: python -m tests.histories.record

Runs representative requests on the time-skipping server with the real worker and saves their
histories (payloads encrypted with the public TEST key) as JSON beside this file. Re-record only
on purpose: the point of the corpus is that histories written by older code still replay. Name
scenarios to record only those (`python -m tests.histories.record notified`): a new scenario is
added without re-recording the old ones.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from clients.history import every_run
from harness.keys import TEST_KEYS, TEST_KEYS_SETTING
from harness.servers import start_time_skipping
from runtime.codec import EncryptionCodec
from runtime.process import exit_after_temporal
from runtime.settings import Settings
from store.db import init_schema, make_engine
from store.models import VendorRow
from store.webhooks import create_webhook
from tests.data import OVERLAY_2027
from tests.helpers import at, eventually, finish, open_workflow, send_update
from tests.webhook_receiver import receiving
from worker.build import build_worker
from workflows.messages import CalendarChanged, DecideCorrection
from workflows.service_request import ServiceRequestWorkflow

HERE = Path(__file__).parent
INPATIENT = "axa.green_channel.inpatient"
Scenario = Callable[[WorkflowEnvironment, str, Path, Engine], Awaitable[Any]]


async def met_with_restart(env: WorkflowEnvironment, queue: str, _: Path, __: Engine) -> Any:
    handle = await open_workflow(env.client, queue, INPATIENT, at(2025, 9, 25, 9))
    for event, when in [
        ("admission_notice_issued", at(2025, 9, 24)),
        ("eligibility_approved", at(2025, 9, 26, 15)),
        ("materials_incomplete", at(2025, 9, 30, 10)),
        ("materials_complete", at(2025, 10, 9, 10)),
        ("hospital_confirmed", at(2025, 10, 22, 18)),
        ("service_completed", at(2025, 10, 23, 9)),
    ]:
        await send_update(handle, event, when)
    return handle


async def breached_live(env: WorkflowEnvironment, queue: str, _: Path, __: Engine) -> Any:
    now = await env.get_current_time()
    handle = await open_workflow(env.client, queue, "zhongan.second_opinion.domestic", now)
    await send_update(handle, "materials_complete", now)
    await env.sleep(timedelta(days=12))  # review (1 wd) and opinion (5 wd) both breach on timers
    later = await env.get_current_time()
    await send_update(handle, "eligibility_approved", later)
    await send_update(handle, "report_issued", later)
    await send_update(handle, "service_completed", later)
    return handle


async def recomputed(env: WorkflowEnvironment, queue: str, calendar_dir: Path, _: Engine) -> Any:
    now = await env.get_current_time()
    if now < at(2026, 12, 24, 9):
        await env.sleep(at(2026, 12, 24, 9) - now + timedelta(minutes=1))
    handle = await open_workflow(env.client, queue, "pingan_health.green_channel.admission", at(2026, 12, 24, 9))
    (calendar_dir / "2027.yaml").write_text(OVERLAY_2027.read_text())
    await handle.signal(ServiceRequestWorkflow.calendar_changed, CalendarChanged("2027 notice loaded (test data)"))
    await asyncio.sleep(1)
    await send_update(handle, "customer_cancelled", await env.get_current_time())
    return handle


async def cancelled(env: WorkflowEnvironment, queue: str, _: Path, __: Engine) -> Any:
    handle = await open_workflow(env.client, queue, "axa.zhuoyue.mdt", at(2025, 11, 3, 9))
    await send_update(handle, "materials_complete", at(2025, 11, 3, 10), key="k-1")
    await send_update(handle, "customer_cancelled", at(2025, 11, 4, 10))
    return handle


async def notified(env: WorkflowEnvironment, queue: str, _: Path, engine: Engine) -> Any:
    """A request whose vendor has a webhook for every kind: two warnings and a breach on timers, a
    retroactive event correcting the breach, a clock met, the request closed (six notify_vendor
    markers and the vendor-notifications patch marker)."""
    with Session(engine) as session:
        session.add(VendorRow(id="vendor-reliable", name="Reliable (record)"))
        session.commit()
    kinds = ["clock.at_risk", "clock.breached", "clock.met", "outcome.corrected", "request.closed"]
    with receiving() as receiver:
        _, receiver.secrets["/hook"] = create_webhook(
            engine, EncryptionCodec(TEST_KEYS), "vendor-reliable", receiver.url("/hook"), kinds, "record"
        )
        opened = await env.get_current_time()
        handle = await open_workflow(env.client, queue, "pingan_health.green_channel.outpatient", opened)
        for hours in (25, 14, 10):  # 50 % and 80 % of 48 h, then the due
            await env.sleep(timedelta(hours=hours))
        # retroactive: the breach corrected
        await send_update(handle, "customer_confirmed", opened + timedelta(hours=47))
        now = await env.get_current_time()
        await send_update(handle, "expert_confirmed", now)
        await send_update(handle, "service_completed", now)
        await eventually(lambda: len(receiver.of("/hook")) == 6, timeout=30)
    return handle


async def continued(env: WorkflowEnvironment, queue: str, _: Path, __: Engine) -> Any:
    """A request that continues as new every two updates (issue 24): three runs, each saved; the
    runs after the first start from the state the run before handed over, one of them with an
    idempotency key from an earlier run."""
    handle = await open_workflow(env.client, queue, INPATIENT, at(2025, 9, 25, 9), updates_per_run=2)
    await send_update(handle, "admission_notice_issued", at(2025, 9, 24), key="notice")
    await send_update(handle, "eligibility_approved", at(2025, 9, 26, 15))
    await send_update(handle, "admission_notice_issued", at(2025, 9, 24), key="notice")  # a retry, next run
    await send_update(handle, "hospital_confirmed", at(2025, 10, 10, 18))
    await send_update(handle, "service_completed", at(2025, 10, 11, 9))
    return handle


async def reviewed(env: WorkflowEnvironment, queue: str, _: Path, __: Engine) -> Any:
    """Issue 24: a stop dated before the due of a breached 48-hour clock is held; the request closes
    and waits; the insurer accepts it and the breach becomes met (decide_correction)."""
    opened = await env.get_current_time()
    handle = await open_workflow(env.client, queue, "pingan_health.green_channel.outpatient", opened)
    await env.sleep(timedelta(hours=49))
    held = await send_update(handle, "customer_confirmed", opened + timedelta(hours=47))
    now = await env.get_current_time()
    await send_update(handle, "expert_confirmed", now)
    await send_update(handle, "service_completed", now)
    await handle.execute_update(
        ServiceRequestWorkflow.decide_correction, DecideCorrection(held.result.held or "", True, "auditor:record")
    )
    return handle


SCENARIOS: dict[str, Scenario] = {
    "met_restarted": met_with_restart,
    "breached": breached_live,
    "cancelled": cancelled,
    "notified": notified,
    "continued": continued,
    "reviewed": reviewed,
    "recomputed": recomputed,  # last: it moves the test server's clock to late December
}


async def main(names: list[str]) -> None:
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"no scenario {sorted(unknown)}; there are {sorted(SCENARIOS)}")
    env = await start_time_skipping()
    try:
        for name, scenario in SCENARIOS.items():
            if names and name not in names:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                calendar_dir = Path(tmp) / "calendars"
                calendar_dir.mkdir()
                settings = Settings(
                    database_url=f"sqlite:///{tmp}/db.sqlite",
                    calendar_dir=calendar_dir,
                    payload_keys=TEST_KEYS_SETTING,
                    task_queue=f"record-{name}",
                    webhook_allow_loopback=True,  # its receiver listens on 127.0.0.1
                )
                engine = make_engine(settings.database_url)
                init_schema(engine)
                async with build_worker(env.client, settings, engine):
                    handle = await scenario(env, settings.task_queue, calendar_dir, engine)
                    await finish(env, handle)
                runs = await every_run(env.client, handle.id)
                for n, (_, history) in enumerate(runs, start=1):
                    # one file per run of a request that continued as new: each run replays on its own
                    stem = name if len(runs) == 1 else f"{name}.run{n}"
                    (HERE / f"{stem}.json").write_text(history.to_json())
                    print(f"{stem}: {len(history.events)} events")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
    exit_after_temporal(0)
