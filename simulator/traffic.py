"""Realistic traffic through the HTTP API, for demos, dashboards and benchmarks.

Each request follows its service's own clocks from the catalog: the start events are sent, then the
stop event at a time that depends on the vendor's habit. Requests are backdated over `days`, so
weeks of history appear in minutes; events never lie in the future, so recent requests stay open.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from rich.progress import Progress

from sla.calendar.working import WorkingCalendar
from sla.catalog.catalog import Catalog
from sla.catalog.model import ClockSpec, ServiceEntry
from sla.events import SYSTEM_EVENTS, EventType
from sla.units import measure_of


@dataclass(frozen=True)
class Habit:
    """How a vendor delivers: the fraction of the time budget it uses, and how often it forgets."""

    name: str
    delivery_fraction: tuple[float, float]
    forgets_to_confirm: float = 0.0


HABITS = {
    "vendor-reliable": Habit("reliable", (0.2, 0.9)),
    "vendor-late": Habit("often late", (0.5, 1.7)),
    "vendor-forgetful": Habit("forgets to confirm", (0.2, 0.9), forgets_to_confirm=0.35),
}


@dataclass
class Tally:
    opened: int = 0
    events: int = 0
    rejected: int = 0
    completed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)


def _due(calendar: WorkingCalendar, spec: ClockSpec, start: datetime) -> datetime:
    return measure_of(spec.duration, calendar).due(start).due_at


def script(
    entry: ServiceEntry, habit: Habit, opened_at: datetime, calendar: WorkingCalendar, rng: random.Random
) -> list[tuple[str, datetime]]:
    """The events a coordinator of this habit would send, in order, with their effective times."""
    events: list[tuple[str, datetime]] = []
    sent: set[str] = set()
    t = opened_at + timedelta(minutes=rng.randint(30, 600))
    forgot = False
    for spec in entry.clocks:
        for start in spec.start_all_of:
            if start not in SYSTEM_EVENTS and start.value not in sent:
                events.append((start.value, t))
                sent.add(start.value)
                t += timedelta(minutes=rng.randint(5, 240))
        started = t
        due = _due(calendar, spec, started)
        delivered = started + (due - started) * rng.uniform(*habit.delivery_fraction)
        if rng.random() < habit.forgets_to_confirm:
            forgot = True  # the clock will breach at its due instant; nothing later can follow it
            break
        stop = spec.stop[0].value
        if stop not in sent:
            events.append((stop, delivered))
            sent.add(stop)
        t = delivered + timedelta(minutes=rng.randint(10, 300))
    if not forgot and EventType.SERVICE_COMPLETED in entry.accepts:
        events.append((EventType.SERVICE_COMPLETED.value, t + timedelta(hours=rng.randint(1, 48))))
    return events


@dataclass(frozen=True)
class _Planned:
    """One simulated request before it is sent: who, which service, when, and its events."""

    number: int
    vendor: str
    entry: ServiceEntry
    opened_at: datetime
    events: list[tuple[str, datetime]]
    cancel: bool


def _plan_request(
    number: int, services: list[ServiceEntry], calendar: WorkingCalendar, now: datetime, days: int, rng: random.Random
) -> _Planned:
    """Draws a vendor, a service and an opening instant (more of them recent), then its script."""
    vendor = rng.choice(list(HABITS))
    entry = rng.choice(services)
    opened_at = now - timedelta(days=days) * rng.random() ** 0.7
    events = script(entry, HABITS[vendor], opened_at, calendar, rng)
    return _Planned(number, vendor, entry, opened_at, events, cancel=rng.random() < 0.05)


async def _open_request(client: httpx.AsyncClient, planned: _Planned, seed: int, tally: Tally) -> str | None:
    """Opens the request; its id, or None (counted as an error) when the API refused it."""
    number = planned.number
    body = {
        "service_id": planned.entry.id,
        "vendor_id": planned.vendor,
        "policy_no": f"SIM-{number:06d}",
        "insured": {"name": "模拟客户", "id_number": f"SIM{number:09d}"},
        "opened_at": planned.opened_at.isoformat(),
        "external_ref": f"sim-{seed}-{number}",
    }
    response = await client.post("/v1/requests", json=body)
    if response.status_code not in (200, 201):
        tally.errors.append(f"open {planned.entry.id}: {response.status_code} {response.text[:200]}")
        return None
    tally.opened += 1
    return str(response.json()["id"])


async def _send_events(
    client: httpx.AsyncClient, request_id: str, events: list[tuple[str, datetime]], key: str, tally: Tally
) -> None:
    """Sends the events that have already happened, in order, until the API refuses one."""
    for seq, (event, when) in enumerate(events):
        if when > datetime.now(UTC):
            break  # still in flight: its next event has not happened yet
        reply = await client.post(
            f"/v1/requests/{request_id}/events",
            json={"type": event, "occurred_at": when.isoformat()},
            headers={"Idempotency-Key": f"{key}-{seq}"},
        )
        if reply.status_code == 200:
            tally.events += 1
            tally.completed += event == "service_completed"
            tally.cancelled += event == "customer_cancelled"
        elif reply.status_code in (409, 422):
            tally.rejected += 1  # e.g. completion refused while a clock still runs: realistic
            break
        else:
            tally.errors.append(f"{event}: {reply.status_code} {reply.text[:200]}")
            break


async def simulate(
    client: httpx.AsyncClient,
    catalog: Catalog,
    calendar: WorkingCalendar,
    *,
    requests: int,
    days: int,
    seed: int = 7,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> Tally:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    services = [e for e in catalog if e.clocks]
    tally = Tally()
    gate = asyncio.Semaphore(concurrency)
    task = progress.add_task("requests", total=requests) if progress else None

    async def one(number: int) -> None:
        planned = _plan_request(number, services, calendar, now, days, rng)
        async with gate:
            request_id = await _open_request(client, planned, seed, tally)
            if request_id is None:
                return
            events = planned.events
            if planned.cancel:
                events = [("customer_cancelled", planned.opened_at + timedelta(minutes=rng.randint(5, 120)))]
            await _send_events(client, request_id, events, f"sim-{seed}-{number}", tally)
        if progress is not None and task is not None:
            progress.advance(task)

    await asyncio.gather(*(one(n) for n in range(requests)))
    return tally
