"""A deadline herd: N requests whose deadlines fall at one instant, against N bare timers at one
instant, on one dev server in the same run.

Run: python -m bench.herd [--requests 2000]

Ours: pingan_health.green_channel.admission opened at T - 48 h, so its 48-hour clock (inform_status)
is due at T; the lag is from T to the last breach written to the read model (clock_outcome.recorded_at).
Bare (bench/bare.py BareTimerWorkflow): sleep until T', then one local activity that stamps the time;
the lag is from T' to the last stamp. Also: at T + 1 s, /metrics and the views must already show every
clock breached (they read due_at at the instant, not the workflows' progress).
Target (issue 9): lag <= 1.2x the bare timers'.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Engine, func, select
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from adapters.catalog_files import default_catalog
from bench.bare import BareTimerWorkflow
from bench.processes import METRICS_TOKEN, VENDOR, Bench, side_by_side
from clients.opening import open_request
from runtime.settings import Settings
from store.db import make_engine
from store.models import ClockOutcomeRow, table_of
from workflows.messages import Insured

SERVICE, CLOCK = "pingan_health.green_channel.admission", "inform_status"  # 48 hours from opening [001]


async def _bounded(n: int, parallel: int, one: object) -> None:
    semaphore = asyncio.Semaphore(parallel)

    async def run(i: int) -> None:
        async with semaphore:
            await one(i)  # type: ignore[operator]

    await asyncio.gather(*(run(i) for i in range(n)))


def _drain_cpu(bench: Bench, at_instant: dict[str, float], worker: str) -> dict[str, float]:
    """CPU seconds Temporal and one worker spent since the instant (the herd's drain)."""
    now = bench.cpu()
    return {name: now[name] - at_instant[name] for name in ("temporal", worker)}


def _cpu_text(cpu: dict[str, float], n: int) -> str:
    parts = " + ".join(f"{name} {seconds * 1000 / n:.1f}" for name, seconds in cpu.items())
    return f"CPU {sum(cpu.values()) * 1000 / n:.1f} ms each ({parts})"


async def _sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max((instant - datetime.now(UTC)).total_seconds(), 0))


async def bare_herd(bench: Bench, client: Client, n: int, lead: float) -> dict[str, Any]:
    instant = datetime.now(UTC) + timedelta(seconds=lead)

    async def start(_: int) -> None:
        await client.start_workflow(
            BareTimerWorkflow.run,
            instant.timestamp(),
            id=f"timer-{uuid.uuid4().hex}",
            task_queue="bench-bare",
        )

    await _bounded(n, 50, start)
    assert datetime.now(UTC) < instant, "starting the timers took longer than the lead: lower --requests"
    await _sleep_until(instant)
    at_instant = bench.cpu()
    while True:  # the bare worker appends one stamp per timer resumed
        stamps = bench.stamps.read_text().split() if bench.stamps.exists() else []
        if len(stamps) >= n:
            break
        await asyncio.sleep(0.5)
    return {
        "lag_s": max(float(s) for s in stamps) - instant.timestamp(),
        "cpu_s": _drain_cpu(bench, at_instant, "bare-worker"),
    }


async def _open_herd(client: Client, n: int, opened_at: datetime) -> float:
    """Opens n requests (50 at a time) whose clock falls due at the same instant; the seconds it took."""
    catalog = default_catalog()

    async def start(i: int) -> None:
        await open_request(
            client,
            catalog,
            task_queue="bench-ours",
            service_id=SERVICE,
            vendor_id=VENDOR,
            policy_no=f"P-HERD-{i}",
            insured=Insured("压测", "110101199001011234"),
            opened_at=opened_at,
        )

    started = time.perf_counter()
    await _bounded(n, 50, start)
    return time.perf_counter() - started


async def _breached_as_readers_see_it(bench: Bench) -> tuple[float, int]:
    """The herd's clocks breached now, by /metrics and by the list (its first page of 100)."""
    async with httpx.AsyncClient(base_url=bench.api_url, timeout=60) as http:
        metrics = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
        listed = (
            await http.get(
                "/v1/requests",
                params={"clock_state": "breached", "service": SERVICE, "limit": 100},
                headers={"Authorization": f"Bearer {bench.keys['operations']}"},
            )
        ).json()
    pattern = rf'^sla_clocks_open\{{[^}}]*clock="{CLOCK}"[^}}]*state="breached"[^}}]*\}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, metrics, re.M)), len(listed["items"])


async def _last_breach_recorded(engine: Engine, n: int) -> datetime:
    """Waits until the read model holds n breach outcomes of the clock; when the last was recorded."""
    outcomes = table_of(ClockOutcomeRow)
    while True:
        with engine.connect() as connection:
            recorded, last = connection.execute(
                select(func.count(), func.max(outcomes.c.recorded_at)).where(
                    outcomes.c.clock_id == CLOCK, outcomes.c.outcome == "breached"
                )
            ).one()
        if recorded >= n:
            return cast(datetime, last)
        await asyncio.sleep(0.5)


async def our_herd(bench: Bench, client: Client, n: int, lead: float) -> dict[str, Any]:
    instant = datetime.now(UTC) + timedelta(seconds=lead)
    opening = await _open_herd(client, n, instant - timedelta(hours=48))
    assert datetime.now(UTC) < instant, f"opening took {opening:.0f} s, past the lead: lower --requests"
    engine = make_engine(bench.database_url)
    await _sleep_until(instant)
    at_instant = bench.cpu()
    await asyncio.sleep(1)
    # At T + 1 s the read model's readers already see the whole herd breached.
    shown_breached, listed = await _breached_as_readers_see_it(bench)
    last = await _last_breach_recorded(engine, n)
    engine.dispose()
    return {
        "cpu_s": _drain_cpu(bench, at_instant, "worker"),
        "opening_s": opening,
        "lag_s": (last - instant).total_seconds(),
        "metrics_breached_at_t_plus_1s": shown_breached,
        "listed_at_t_plus_1s": listed,
    }


async def _timed_out_tasks(client: Client, workflow_type: str, sample: int = 100) -> str:
    """Of a sample of the herd's workflows, how many had a workflow task time out, and how: waiting on
    the worker's sticky queue (Temporal then sends it again through the shared queue, whole history
    and all) or started and not completed in time (the workflow's task timeout, 10 s)."""
    seen, timed_out, kinds = 0, 0, Counter[str]()
    async for execution in client.list_workflows(f"WorkflowType='{workflow_type}'", limit=sample):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        seen += 1
        found = {
            TimeoutType.Name(e.workflow_task_timed_out_event_attributes.timeout_type).removeprefix("TIMEOUT_TYPE_")
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
        }
        timed_out += bool(found)  # a workflow counts once, whatever kinds it met
        kinds.update(found)
    named = ", ".join(f"{n} {kind.lower().replace('_', '-')}" for kind, n in sorted(kinds.items()))
    return f"{timed_out} of {seen} sampled" + (f" ({named})" if named else "")


async def _main(args: argparse.Namespace) -> None:
    bench = Bench()
    try:
        plain, ours_client = await side_by_side(bench)
        lead = args.requests / args.open_rate + 15
        bare = await bare_herd(bench, plain, args.requests, lead)
        ours = await our_herd(bench, ours_client, args.requests, lead)
        n, cached, slots = args.requests, bench.cached_workflows, Settings().workflow_task_slots
        bare_timeouts = await _timed_out_tasks(plain, "BareTimerWorkflow")
        our_timeouts = await _timed_out_tasks(ours_client, "ServiceRequestWorkflow")
        print(f"\n{n} deadlines at one instant on one dev server (both workers cache {cached} workflows;")
        print(f"  ours runs {slots} workflow tasks at once, bare the SDK's 100):")
        print(f"  bare timers: last resumed {bare['lag_s']:.1f} s after the instant; {_cpu_text(bare['cpu_s'], n)}")
        print(
            f"  requests:    last breach recorded {ours['lag_s']:.1f} s after the instant"
            f" ({ours['lag_s'] / bare['lag_s']:.2f}x bare; opening them took {ours['opening_s']:.0f} s);"
            f" {_cpu_text(ours['cpu_s'], n)}, {sum(ours['cpu_s'].values()) / sum(bare['cpu_s'].values()):.2f}x bare"
        )
        print(f"  workflows with a workflow task timed out: bare {bare_timeouts}, ours {our_timeouts}")
        print(
            f"  at the instant + 1 s: /metrics shows {ours['metrics_breached_at_t_plus_1s']:.0f} of {args.requests}"
            f" breached; the breached list's first page holds {ours['listed_at_t_plus_1s']} (limit 100)"
        )
    finally:
        bench.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--open-rate", type=float, default=20.0, help="opens per second to plan the instant for")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
