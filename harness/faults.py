"""Faults mid-stream: a bounded stream of events flows through the HTTP API while one part of the
stack fails, then every acknowledged event must be in the read model and in the workflow exactly
once, and every deadline that passed during the outage recorded as a breach at its due instant.

The scenario `python -m bench.faults` measures (bench/faults.py) and tests/e2e/test_faults.py run in
`make test`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from api.commands import EXTERNAL_REF_NAMESPACE
from api.temporal_problems import BUSY
from harness.processes import ProcessStack, SqliteWriteLock
from harness.readmodel_checks import assert_tallies_exact
from sla.calendar.timeutil import SHANGHAI
from store.models import ClockOutcomeRow, ClockRow, EventRow, RequestRow, table_of
from workflows.ids import request_id_from_workflow_id, request_workflow_id
from workflows.messages import RequestView
from workflows.service_request import ServiceRequestWorkflow

SERVICE = "pingan_health.green_channel.admission"  # accepts follow_up_done any number of times
BREACH_CLOCK, BREACH_HOURS = "inform_status", 48  # a 48-hour clock from opening: due at opened_at + 48 h
VENDOR = "vendor-reliable"
INSURED = {"name": "故障测试", "id_number": "110101199001011234"}

RATE = 6.0  # events per second, across the rotation
STREAM_REQUESTS = 30
KEYLESS_EVERY = 4  # every 4th event without an Idempotency-Key
OPEN_EVERY = 12  # one open per 12 events (every 2 s)
BURST_AFTER = 0.5  # seconds after the fault starts
LEAD, TAIL = 2.0, 3.0  # stream seconds before the fault and after the stack is whole again
SETUP_ALLOWANCE = 3.0  # seconds to open the breach requests before the stream starts
RETRY_AFTER_CAP, RECONNECT_AFTER = 5.0, 0.5
CALL_DEADLINE = 90.0  # a call still failing this long after the stack was restored gives up
SETTLE_TIMEOUT = 90.0  # the stack must satisfy every check within this after the last call ended
PASSED_MARGIN = timedelta(seconds=2)  # a due instant this far in the past must be recorded


# -- the faults ---------------------------------------------------------------------------------------
def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.time()))


def _down_for(down: float, stop: Callable[[], None], start: Callable[[], None]) -> None:
    """Stop something, keep it down for `down` seconds from the stop, start it again."""
    started = time.time()
    stop()
    _sleep_until(started + down)
    start()


def kill_worker(stack: ProcessStack, down: float) -> None:
    _down_for(down, stack.worker.kill, stack.worker.start)


def kill_temporal(stack: ProcessStack, down: float) -> None:
    _down_for(down, stack.temporal.kill, stack.temporal.start)


def restart_api(stack: ProcessStack, down: float) -> None:
    _down_for(down, stack.api.stop, stack.api.start)


def database_outage(stack: ProcessStack, down: float) -> None:
    started = time.time()
    if stack.postgres is not None:
        stack.postgres.stop()
        _sleep_until(started + down)
        stack.postgres.start()
        return
    lock = SqliteWriteLock(stack.sqlite_path)
    lock.acquire()
    try:
        _sleep_until(started + down)
    finally:
        lock.release()


def kill_everything(stack: ProcessStack, down: float) -> None:
    started = time.time()
    for child in (stack.api, stack.worker, stack.temporal):
        child.kill()
    _sleep_until(started + down)
    for child in (stack.temporal, stack.worker, stack.api):
        child.start()


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    down: float  # seconds the part is away (then it starts again, which takes some more)
    api_down: bool  # calls may meet a closed port
    inject: Callable[[ProcessStack, float], None]
    new_temporal: bool = False  # the test's own client connects again afterwards
    # Distinct events sent at once to one request just after the fault starts (an integration catching up
    # its backlog): while the fault holds them, more than Temporal's 10 in-flight updates per workflow.
    burst: int = 0

    @property
    def due_offsets(self) -> list[float]:
        """When the breach requests fall due, after the fault starts: spread over the time the part is away."""
        count = 3 if self.down < 10 else 5
        return [round(self.down * (k + 1) / (count + 1), 3) for k in range(count)]


FAULTS = {
    f.name: f
    for f in (
        Fault("worker", "SIGKILL worker, start another", 4.0, False, kill_worker),
        Fault("temporal", "SIGKILL Temporal dev server, restart", 4.0, False, kill_temporal, True),
        Fault("api", "stop and restart the API", 3.0, True, restart_api),
        Fault("database", "read-model database away 20 s", 20.0, False, database_outage, burst=14),
        Fault("everything", "SIGKILL everything, restart", 4.0, True, kill_everything, True),
    )
}
SQLITE_FAULTS = ("worker", "temporal", "api", "database", "everything")
POSTGRES_FAULTS = ("worker", "database")


# -- the client's calls ---------------------------------------------------------------------------
@dataclass
class Attempt:
    started: float  # wall clock
    ended: float
    status: int | None  # None: no answer (the error says why)
    error: str | None = None
    retry_after: str | None = None
    key_header: str | None = None
    detail: str = ""


@dataclass
class Call:
    """One logical call of the client: every attempt it took, and how it ended."""

    phase: str
    request_id: str
    attempts: list[Attempt] = field(default_factory=list, kw_only=True)
    acknowledged: bool = field(default=False, kw_only=True)
    outcome: str = field(default="pending", kw_only=True)

    def tried(self) -> str:
        return ", ".join(
            f"{a.status or a.error}@{time.strftime('%H:%M:%S', time.localtime(a.started))}" for a in self.attempts
        )

    def describe(self) -> str:
        return f"request {self.request_id} [{self.outcome}: {self.tried()}]"


@dataclass
class EventCall(Call):
    occurred_at: datetime  # unique per call: how its copies are found in the logs
    key: str | None  # the client's own Idempotency-Key; None: sent without one
    learned: list[str] = field(default_factory=list)  # keys the API's answers named

    @property
    def known_keys(self) -> set[str]:
        return {k for k in (self.key, *self.learned) if k}

    def describe(self) -> str:
        return (
            f"event ({self.phase} phase) on request {self.request_id} occurred_at {self.occurred_at.isoformat()}"
            f" key {self.key or '(none)'} learned {self.learned} [{self.outcome}: {self.tried()}]"
        )


@dataclass
class OpenCall(Call):
    external_ref: str

    def describe(self) -> str:
        return (
            f"open ({self.phase} phase) {self.external_ref} (request {self.request_id})"
            f" [{self.outcome}: {self.tried()}]"
        )


def _attempt(started: float, answer: httpx.Response) -> Attempt:
    return Attempt(
        started,
        time.time(),
        answer.status_code,
        retry_after=answer.headers.get("retry-after"),
        key_header=answer.headers.get("idempotency-key"),
        detail="" if answer.status_code < 300 else answer.text[:300],
    )


def _not_sent(error: httpx.TransportError) -> bool:
    """The request never left: nothing can have been recorded, any client may send it again."""
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


async def deliver_event(
    http: httpx.AsyncClient, headers: dict[str, str], call: EventCall, deadline: Callable[[], float]
) -> None:
    body = {"type": "follow_up_done", "occurred_at": call.occurred_at.isoformat(), "data": {}}
    key = call.key
    while True:
        started = time.time()
        try:
            answer = await http.post(
                f"/v1/requests/{call.request_id}/events",
                json=body,
                headers=headers | ({"Idempotency-Key": key} if key else {}),
            )
        except httpx.TransportError as error:
            call.attempts.append(Attempt(started, time.time(), None, type(error).__name__))
            if key is None and not _not_sent(error):
                call.outcome = "unknown: no answer, and no key to repeat it with"
                return
            if time.time() > deadline():
                call.outcome = "gave up"
                return
            await asyncio.sleep(RECONNECT_AFTER)
            continue
        attempt = _attempt(started, answer)
        call.attempts.append(attempt)
        if attempt.key_header:
            call.learned.append(attempt.key_header)
        if answer.status_code == 200:
            call.acknowledged, call.outcome = True, "acknowledged"
            return
        if answer.status_code != 503:
            call.outcome = f"answered {answer.status_code}"
            return
        key = key or attempt.key_header  # a keyless call repeats with the key the 503 named, if any
        wait = min(float(attempt.retry_after or 1), RETRY_AFTER_CAP)
        if time.time() + wait > deadline():
            call.outcome = "gave up"
            return
        await asyncio.sleep(wait)


def _open_body(external_ref: str | None = None, opened_at: datetime | None = None) -> dict[str, Any]:
    policy = f"P-FAULT-{uuid.uuid4().hex[:12]}"  # one policy per request: no quota is ever in the way
    body: dict[str, Any] = {"service_id": SERVICE, "vendor_id": VENDOR, "policy_no": policy, "insured": INSURED}
    if external_ref:
        body["external_ref"] = external_ref
    if opened_at:
        body["opened_at"] = opened_at.isoformat()
    return body


async def deliver_open(
    http: httpx.AsyncClient, headers: dict[str, str], call: OpenCall, deadline: Callable[[], float]
) -> None:
    while True:
        started = time.time()
        try:
            answer = await http.post("/v1/requests", json=_open_body(call.external_ref), headers=headers)
        except httpx.TransportError as error:
            call.attempts.append(Attempt(started, time.time(), None, type(error).__name__))
            # opening again with the same external_ref is safe whatever happened
            if time.time() > deadline():
                call.outcome = "gave up"
                return
            await asyncio.sleep(RECONNECT_AFTER)
            continue
        attempt = _attempt(started, answer)
        call.attempts.append(attempt)
        if answer.status_code in (200, 201, 202):
            call.acknowledged, call.outcome = True, f"acknowledged {answer.status_code}"
            return
        if answer.status_code != 503:
            call.outcome = f"answered {answer.status_code}"
            return
        wait = min(float(attempt.retry_after or 1), RETRY_AFTER_CAP)
        if time.time() + wait > deadline():
            call.outcome = "gave up"
            return
        await asyncio.sleep(wait)


async def open_now(http: httpx.AsyncClient, headers: dict[str, str], opened_at: datetime | None = None) -> str:
    """Open a request while the stack is whole: it must be a 201 (its clocks computed)."""
    answer = await http.post("/v1/requests", json=_open_body(opened_at=opened_at), headers=headers)
    assert answer.status_code == 201, f"opening a request answered {answer.status_code}: {answer.text}"
    return str(answer.json()["id"])


# -- what the checks expect -------------------------------------------------------------------------
@dataclass(frozen=True)
class Breach:
    phase: str
    request_id: str
    due_at: datetime


@dataclass
class Ledger:
    """Everything the client did, over all phases: the checks are cumulative."""

    stream_requests: list[str] = field(default_factory=list)
    events: list[EventCall] = field(default_factory=list)
    opens: list[OpenCall] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    _instants: set[datetime] = field(default_factory=set)

    def unique_now(self) -> datetime:
        instant = datetime.now(SHANGHAI)
        while instant in self._instants:
            instant += timedelta(microseconds=1)
        self._instants.add(instant)
        return instant


@dataclass
class Observation:
    """The read model and the workflows at one moment."""

    at: datetime
    rows: dict[str, str]  # request id -> status
    events: dict[tuple[str, datetime], list[tuple[int, str | None]]]  # (request, occurred_at) -> [(seq, key)]
    logs: dict[str, list[tuple[int, str, datetime, str | None]]]  # request -> [(seq, type, occurred_at, key)]
    clocks: dict[tuple[str, str], Any]  # (request, clock) -> ClockRow (instance 1)
    outcomes: dict[str, list[tuple[str, int, str, datetime]]]
    running: set[str]
    views: dict[str, RequestView]
    query_failures: list[str]
    tallies: str | None  # the tally check's message, None when exact


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stored_breached_at(row: Any) -> datetime | None:
    """The breach instant as the read model stores it: inside the clock's `view` document."""
    raw = (row.view or {}).get("breached_at")
    return _aware(datetime.fromisoformat(raw)) if raw else None


def _read_model_rows(stack: ProcessStack) -> tuple[Any, ...]:
    """The rows the checks compare, and the tally check's message (None when the tallies are exact)."""
    r, e, c, o = (table_of(m) for m in (RequestRow, EventRow, ClockRow, ClockOutcomeRow))
    with stack.engine.connect() as connection:
        rows = {x.id: x.status for x in connection.execute(select(r.c.id, r.c.status))}
        event_rows = connection.execute(
            select(e.c.request_id, e.c.seq, e.c.type, e.c.occurred_at, e.c.idempotency_key)
        ).all()
        clock_rows = connection.execute(select(c).where(c.c.instance == 1)).all()
        outcome_rows = connection.execute(
            select(o.c.request_id, o.c.clock_id, o.c.instance, o.c.outcome, o.c.outcome_at)
        ).all()
    try:
        assert_tallies_exact(stack.engine)
        tallies = None
    except AssertionError as error:
        tallies = str(error)
    return rows, event_rows, clock_rows, outcome_rows, tallies


def _index_events(
    event_rows: Sequence[Any],
) -> tuple[
    dict[tuple[str, datetime], list[tuple[int, str | None]]], dict[str, list[tuple[int, str, datetime, str | None]]]
]:
    """The stored events by (request, occurred_at), and each request's log in order."""
    events: dict[tuple[str, datetime], list[tuple[int, str | None]]] = {}
    logs: dict[str, list[tuple[int, str, datetime, str | None]]] = {}
    for x in event_rows:
        occurred = _aware(x.occurred_at)
        events.setdefault((x.request_id, occurred), []).append((x.seq, x.idempotency_key))
        logs.setdefault(x.request_id, []).append((x.seq, x.type, occurred, x.idempotency_key))
    for log in logs.values():
        log.sort()
    return events, logs


async def _workflow_views(
    stack: ProcessStack, requests: Sequence[str]
) -> tuple[set[str], dict[str, RequestView], list[str]]:
    """The running workflows, and the status of each request asked or running (or why it failed)."""
    client = await stack.client()
    running = set()
    async for execution in client.list_workflows(f"TaskQueue = '{stack.task_queue}' AND ExecutionStatus = 'Running'"):
        running.add(request_id_from_workflow_id(execution.id))
    views: dict[str, RequestView] = {}
    failures: list[str] = []

    async def query(request_id: str) -> None:
        handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(request_id))
        try:
            views[request_id] = await handle.query(ServiceRequestWorkflow.get_status, rpc_timeout=timedelta(seconds=10))
        except Exception as error:  # a query that cannot be answered yet: not settled
            failures.append(f"{request_id}: {type(error).__name__}: {error}")

    await asyncio.gather(*(query(rid) for rid in sorted(set(requests) | running)))
    return running, views, failures


async def observe(stack: ProcessStack, requests: Sequence[str]) -> Observation:
    at = datetime.now(SHANGHAI)
    rows, event_rows, clock_rows, outcome_rows, tallies = await asyncio.to_thread(_read_model_rows, stack)
    events, logs = _index_events(event_rows)
    outcomes: dict[str, list[tuple[str, int, str, datetime]]] = {}
    for x in outcome_rows:
        outcomes.setdefault(x.request_id, []).append((x.clock_id, x.instance, x.outcome, _aware(x.outcome_at)))
    running, views, failures = await _workflow_views(stack, requests)
    return Observation(
        at,
        rows,
        events,
        logs,
        {(x.request_id, x.clock_id): x for x in clock_rows},
        outcomes,
        running,
        views,
        failures,
        tallies,
    )


def _workflow_copies(view: RequestView | None, occurred_at: datetime) -> list[tuple[int, str | None]]:
    if view is None:
        return []
    return [(e.seq, e.idempotency_key) for e in view.events if e.occurred_at == occurred_at]


@dataclass
class Verdict:
    """The checks over one observation: each list names what is wrong."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # recorded under a key the client was never told
    wrong_calls: dict[str, Counter[str]] = field(default_factory=dict)  # lost/duplicated/hidden -> per phase
    breaches: list[str] = field(default_factory=list)
    consistency: list[str] = field(default_factory=list)
    breaches_at_due: Counter[str] = field(default_factory=Counter)

    def count(self, kind: str, phase: str) -> None:
        self.wrong_calls.setdefault(kind, Counter())[phase] += 1

    @property
    def problems(self) -> list[str]:
        return [
            *(f"lost: {x}" for x in self.lost),
            *(f"duplicated: {x}" for x in self.duplicated),
            *(f"recorded behind an answer that hid its key: {x}" for x in self.hidden),
            *self.breaches,
            *self.consistency,
        ]


def _judge_events(ledger: Ledger, seen: Observation, verdict: Verdict) -> None:
    """Each event call: at most one copy, present if acknowledged, under a key the client knows."""
    for call in ledger.events:
        stored = seen.events.get((call.request_id, call.occurred_at), [])
        in_workflow = _workflow_copies(seen.views.get(call.request_id), call.occurred_at)
        copies = max(len(stored), len(in_workflow))
        where = f"{call.describe()}: read model {stored}, workflow {in_workflow}"
        if copies > 1:
            verdict.duplicated.append(where)
            verdict.count("duplicated", call.phase)
        elif call.acknowledged and (not stored or not in_workflow):
            verdict.lost.append(where)
            verdict.count("lost", call.phase)
        elif copies == 1:
            stored_key = (stored or in_workflow)[0][1]
            if stored_key not in call.known_keys and not call.outcome.startswith("unknown"):
                verdict.hidden.append(where)
                verdict.count("hidden", call.phase)


def _judge_opens(ledger: Ledger, seen: Observation, verdict: Verdict) -> None:
    """Each acknowledged open: a read-model row and a running workflow."""
    for open_call in ledger.opens:
        if open_call.acknowledged and open_call.request_id not in seen.rows:
            verdict.lost.append(f"{open_call.describe()} has no read-model row")
        if open_call.acknowledged and open_call.request_id not in seen.running:
            verdict.lost.append(f"{open_call.describe()} has no running workflow")


def _judge_breaches(ledger: Ledger, seen: Observation, verdict: Verdict) -> None:
    """Each breach request's clock recorded breached at its due instant, in the read model and the
    workflow; and no running clock whose deadline has passed."""
    for breach in ledger.breaches:
        row = seen.clocks.get((breach.request_id, BREACH_CLOCK))
        view = seen.views.get(breach.request_id)
        clock = next((c for c in view.clocks if c.clock_id == BREACH_CLOCK and c.instance == 1), None) if view else None
        outcome = [o for o in seen.outcomes.get(breach.request_id, []) if o[0] == BREACH_CLOCK and o[1] == 1]
        what = f"{breach.phase}: request {breach.request_id} due {breach.due_at.isoformat()}"
        if row is None or _aware(row.due_at) != breach.due_at:
            verdict.breaches.append(f"breach {what}: read-model clock {row and (row.state, row.due_at)}")
        elif row.state != "breached" or _stored_breached_at(row) != breach.due_at:
            verdict.breaches.append(
                f"breach {what} not recorded: read model {row.state} breached_at {_stored_breached_at(row)}"
            )
        elif clock is None or clock.state != "breached" or clock.breached_at != breach.due_at:
            verdict.breaches.append(f"breach {what} not in the workflow: {clock and (clock.state, clock.breached_at)}")
        elif outcome != [(BREACH_CLOCK, 1, "breached", breach.due_at)]:
            verdict.breaches.append(f"breach {what}: outcome rows {outcome}")
        else:
            verdict.breaches_at_due[breach.phase] += 1
    for (request_id, clock_id), row in sorted(seen.clocks.items()):
        if row.state == "running" and row.due_at is not None and _aware(row.due_at) <= seen.at - PASSED_MARGIN:
            verdict.breaches.append(
                f"deadline passed, no breach recorded: request {request_id} clock {clock_id} due {row.due_at}"
            )


def _judge_consistency(seen: Observation, verdict: Verdict) -> None:
    """The read model and the workflows agree: open rows and running workflows, logs, outcomes, tallies."""
    open_rows = {rid for rid, status in seen.rows.items() if status == "open"}
    for rid in sorted(open_rows - seen.running):
        verdict.consistency.append(f"open request {rid} has no running workflow")
    for rid in sorted(seen.running - set(seen.rows)):
        verdict.consistency.append(f"running workflow request-{rid} has no read-model row")
    for failure in seen.query_failures:
        verdict.consistency.append(f"get_status failed: {failure}")
    for rid, view in sorted(seen.views.items()):
        workflow_log = [(e.seq, e.type, e.occurred_at, e.idempotency_key) for e in view.events]
        stored_log = seen.logs.get(rid, [])
        if stored_log != workflow_log:
            extra = sorted(set(stored_log) - set(workflow_log))
            missing = sorted(set(workflow_log) - set(stored_log))
            verdict.consistency.append(
                f"request {rid}: the read-model log is not the workflow's: only stored {extra}, only in it {missing}"
            )
        expected = sorted(
            (c.clock_id, c.instance, c.outcome, c.breached_at if c.outcome == "breached" else c.stopped_at)
            for c in view.clocks
            if c.outcome is not None
        )
        stored_outcomes = sorted(seen.outcomes.get(rid, []))
        if stored_outcomes != expected:
            verdict.consistency.append(f"request {rid}: outcome rows {stored_outcomes}, workflow {expected}")
    if seen.tallies:
        verdict.consistency.append(seen.tallies)


def judge(ledger: Ledger, seen: Observation) -> Verdict:
    verdict = Verdict()
    _judge_events(ledger, seen, verdict)
    _judge_opens(ledger, seen, verdict)
    _judge_breaches(ledger, seen, verdict)
    _judge_consistency(seen, verdict)
    return verdict


# -- one fault, and the report ------------------------------------------------------------------------
@dataclass
class Window:
    """When the fault was planned, started, and the stack was whole again; when the last call ended."""

    planned: float
    started: float = 0.0
    restored: float = 0.0
    calls_done: float = 0.0


@dataclass
class FaultReport:
    backend: str
    fault: Fault
    tried: int = 0
    acknowledged: int = 0
    retried: int = 0  # calls that needed more than one attempt
    retry_attempts: int = 0
    lost: int = 0
    duplicated: int = 0
    hidden: int = 0
    unknown: int = 0  # keyless calls that got no answer: the client cannot know
    keyless: int = 0
    keyless_repeated: int = 0  # keyless calls repeated with the key a 503 named
    busy: int = 0  # 503s for a request with too many calls in progress (Temporal's in-flight update limit)
    opens_tried: int = 0
    opens_acknowledged: int = 0
    breaches_expected: int = 0
    breaches_at_due: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    recovery: float | None = None  # restored -> first 200 of a call started after it
    settled: float | None = None  # restored -> every check holds
    outage: float = 0.0  # fault started -> restored
    worst_detection: float | None = None  # due_at -> breach recorded in the read model, at worst
    answers: list[str] = field(default_factory=list)  # answers that must not happen
    problems: list[str] = field(default_factory=list)  # what the checks found (empty: all held)

    def row(self) -> list[str]:
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} s"

        return [
            self.backend,
            self.fault.title,
            str(self.tried),
            str(self.acknowledged),
            f"{self.retried} ({self.retry_attempts})",
            str(self.lost),
            str(self.duplicated),
            f"{self.breaches_at_due}/{self.breaches_expected}",
            seconds(self.outage),
            seconds(self.recovery),
            seconds(self.settled),
            " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items())),
        ]


HEADER = [
    "backend",
    "fault",
    "tried",
    "ack",
    "retried (attempts)",
    "lost",
    "dup",
    "breaches at due/expected",
    "outage",
    "recovery",
    "settled",
    "answers",
]


def table(reports: Sequence[FaultReport]) -> str:
    rows = [HEADER, *(r.row() for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _count_calls(report: FaultReport, events: list[EventCall], opens: list[OpenCall], verdict: Verdict) -> None:
    """The event calls' and opens' counts of one fault: tried, acknowledged, retried, lost, ..."""
    phase = report.fault.name
    report.tried, report.acknowledged = len(events), sum(c.acknowledged for c in events)
    report.retried = sum(len(c.attempts) > 1 for c in events)
    report.retry_attempts = sum(len(c.attempts) - 1 for c in events)
    report.unknown = sum(c.outcome.startswith("unknown") for c in events)
    report.keyless = sum(c.key is None for c in events)
    report.keyless_repeated = sum(
        c.key is None and any(a.status == 503 and a.key_header for a in c.attempts) for c in events
    )
    report.lost, report.duplicated, report.hidden = (
        verdict.wrong_calls.get(kind, Counter())[phase] for kind in ("lost", "duplicated", "hidden")
    )
    report.opens_tried, report.opens_acknowledged = len(opens), sum(o.acknowledged for o in opens)


def _wrong_answers(call: Call, fault: Fault) -> list[str]:
    """The answers a call got that must not happen (a 5xx but 503, a 503 without Retry-After, no answer
    while the API was up, ...), and a call never acknowledged although it could have been."""
    wrong = []
    for a in call.attempts:
        if a.status is not None and a.status >= 500 and a.status != 503:
            wrong.append(f"{a.status} {a.detail!r} for {call.describe()}")
        elif a.status == 503 and not a.retry_after:
            wrong.append(f"503 without Retry-After ({a.detail!r}) for {call.describe()}")
        elif a.status is not None and a.status not in (200, 201, 202, 503):
            wrong.append(f"unexpected {a.status} {a.detail!r} for {call.describe()}")
        elif a.status is None and not fault.api_down:
            wrong.append(f"no answer ({a.error}) while the API was up, for {call.describe()}")
    if not call.acknowledged and not call.outcome.startswith("unknown"):
        wrong.append(f"never acknowledged: {call.describe()}")
    return wrong


def _timing_problems(fault: Fault, window: Window, breaches: list[Breach]) -> list[str]:
    """The test's own timing: the fault started before the first due instant, every due inside the fault."""
    problems = []
    late = window.started - window.planned
    if late > min(fault.due_offsets):
        problems.append(f"test timing: the fault started {late:.2f} s late, after the first due instant")
    for b in breaches:
        if not window.started <= b.due_at.timestamp() <= window.restored:
            problems.append(f"test timing: due {b.due_at.isoformat()} outside the fault window")
    return problems


class FaultRun:
    """One stack, faults one after another; the checks after each cover every phase so far."""

    def __init__(self, stack: ProcessStack) -> None:
        self.stack = stack
        self.ledger = Ledger()
        self.headers = stack.headers()
        # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them, so a call
        # never goes out on a connection the server is closing: no answer while the API is up is a finding.
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=2.0)
        self.http = httpx.AsyncClient(
            base_url=stack.api.base_url, timeout=httpx.Timeout(60.0, pool=None), limits=limits
        )

    async def prepare(self) -> None:
        opened = await asyncio.gather(*(open_now(self.http, self.headers) for _ in range(STREAM_REQUESTS)))
        self.ledger.stream_requests = list(opened)

    async def close(self) -> None:
        await self.http.aclose()

    async def run(self, fault: Fault) -> FaultReport:
        fault_at = time.time() + SETUP_ALLOWANCE + LEAD
        breaches = await self._open_breaches(fault, fault_at)
        window = await self._stream(fault, fault_at, [*self.ledger.stream_requests, *(b.request_id for b in breaches)])
        verdict, settled = await self._settle(window.restored)
        return await self._report(fault, window, breaches, verdict, settled)

    async def _open_breaches(self, fault: Fault, fault_at: float) -> list[Breach]:
        """Requests whose breach clock falls due while the fault lasts (opened_at backdated by its hours)."""
        dues = [datetime.fromtimestamp(fault_at + offset, SHANGHAI) for offset in fault.due_offsets]
        opened = await asyncio.gather(
            *(open_now(self.http, self.headers, due - timedelta(hours=BREACH_HOURS)) for due in dues)
        )
        breaches = [Breach(fault.name, request_id, due) for request_id, due in zip(opened, dues, strict=True)]
        self.ledger.breaches += breaches
        return breaches

    async def _stream(self, fault: Fault, fault_at: float, rotation: list[str]) -> Window:
        """The stream from LEAD before the fault until TAIL after the stack is whole again; returns once
        every call ended (acknowledged, or given up)."""
        window = Window(planned=fault_at)
        calls: list[asyncio.Task[None]] = []

        def deadline() -> float:
            return (window.restored or time.time()) + CALL_DEADLINE

        producer = asyncio.create_task(self._produce(fault, window, rotation, calls, deadline))
        if fault.burst:
            calls.append(asyncio.create_task(self._burst(fault, window, rotation[0], calls, deadline)))
        try:
            await asyncio.sleep(max(0.0, fault_at - time.time()))
            window.started = time.time()
            await asyncio.to_thread(fault.inject, self.stack, fault.down)
            window.restored = time.time()
            if fault.new_temporal:
                self.stack.forget_client()
            await producer
            await asyncio.gather(*calls)
        finally:  # a fault that could not be undone (a part that would not start) leaves no call running
            for task in [producer, *calls]:
                task.cancel()
        window.calls_done = time.time()
        return window

    async def _produce(
        self,
        fault: Fault,
        window: Window,
        rotation: list[str],
        calls: list[asyncio.Task[None]],
        deadline: Callable[[], float],
    ) -> None:
        """Events at RATE over the rotation (every KEYLESS_EVERY-th without a key), an open every
        OPEN_EVERY events, from LEAD before the fault until TAIL after the stack was restored."""
        ledger = self.ledger
        await asyncio.sleep(max(0.0, window.planned - LEAD - time.time()))
        start = time.monotonic()
        for i in itertools.count():
            if window.restored and time.time() >= window.restored + TAIL:
                return
            await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
            key = None if i % KEYLESS_EVERY == KEYLESS_EVERY - 1 else f"fault-{uuid.uuid4().hex[:16]}"
            event = EventCall(fault.name, rotation[i % len(rotation)], ledger.unique_now(), key)
            ledger.events.append(event)
            calls.append(asyncio.create_task(deliver_event(self.http, self.headers, event, deadline)))
            if i % OPEN_EVERY == 0:
                ref = f"fault-{fault.name}-{uuid.uuid4().hex[:12]}"
                request_id = uuid.uuid5(EXTERNAL_REF_NAMESPACE, f"{VENDOR}:{ref}").hex
                opening = OpenCall(fault.name, request_id, ref)
                ledger.opens.append(opening)
                calls.append(asyncio.create_task(deliver_open(self.http, self.headers, opening, deadline)))

    async def _burst(
        self,
        fault: Fault,
        window: Window,
        request_id: str,
        calls: list[asyncio.Task[None]],
        deadline: Callable[[], float],
    ) -> None:
        """`fault.burst` distinct events to one request at once, BURST_AFTER the fault's planned start."""
        await asyncio.sleep(max(0.0, window.planned + BURST_AFTER - time.time()))
        for _ in range(fault.burst):
            event = EventCall(fault.name, request_id, self.ledger.unique_now(), f"burst-{uuid.uuid4().hex[:16]}")
            self.ledger.events.append(event)
            calls.append(asyncio.create_task(deliver_event(self.http, self.headers, event, deadline)))

    async def _settle(self, restored: float) -> tuple[Verdict, float | None]:
        """Observe until every check holds (and return the seconds since restored), or the time is up
        (and the verdict says what does not hold)."""
        ledger = self.ledger
        requests = [
            *ledger.stream_requests,
            *(b.request_id for b in ledger.breaches),
            *(o.request_id for o in ledger.opens),
        ]
        settle_by = time.monotonic() + SETTLE_TIMEOUT
        while True:
            verdict = judge(ledger, await observe(self.stack, requests))
            if not verdict.problems:
                return verdict, time.time() - restored
            if time.monotonic() > settle_by:
                return verdict, None
            await asyncio.sleep(0.5)

    async def _report(
        self, fault: Fault, window: Window, breaches: list[Breach], verdict: Verdict, settled: float | None
    ) -> FaultReport:
        report = FaultReport(self.stack.backend, fault, settled=settled, problems=verdict.problems)
        events = [c for c in self.ledger.events if c.phase == fault.name]
        opens = [o for o in self.ledger.opens if o.phase == fault.name]
        calls: list[Call] = [*events, *opens]
        _count_calls(report, events, opens, verdict)
        report.busy = sum(a.status == 503 and BUSY in a.detail for c in calls for a in c.attempts)
        report.breaches_expected, report.breaches_at_due = len(breaches), verdict.breaches_at_due[fault.name]
        report.outage = window.restored - window.started
        first_ok = [
            a.ended - window.restored
            for c in calls
            for a in c.attempts
            if a.started >= window.restored and a.status in (200, 201)
        ]
        report.recovery = min(first_ok) if first_ok else None
        report.worst_detection = await asyncio.to_thread(self._worst_detection, breaches)
        for call in calls:
            for a in call.attempts:
                report.statuses[str(a.status or a.error)] += 1
            report.answers += _wrong_answers(call, fault)
        for child in (self.stack.temporal, self.stack.worker, self.stack.api):
            if not child.alive:
                report.answers.append(f"{child.name} exited ({child.returncode}) after the fault:\n{child.log_tail()}")
        report.answers += _timing_problems(fault, window, breaches)
        return report

    def _worst_detection(self, breaches: Sequence[Breach]) -> float | None:
        o = table_of(ClockOutcomeRow)
        ids = [b.request_id for b in breaches]
        with self.stack.engine.connect() as connection:
            found = connection.execute(
                select(o.c.recorded_at, o.c.due_at).where(o.c.request_id.in_(ids), o.c.clock_id == BREACH_CLOCK)
            ).all()
        delays = [(_aware(r.recorded_at) - _aware(r.due_at)).total_seconds() for r in found if r.due_at]
        return max(delays) if delays else None


async def run_faults(directory: Path, backend: str, faults: Sequence[str]) -> list[FaultReport]:
    stack = await asyncio.to_thread(ProcessStack.start, directory, backend)
    run = FaultRun(stack)
    try:
        await run.prepare()
        return [await run.run(FAULTS[name]) for name in faults]
    finally:
        await run.close()
        await asyncio.to_thread(stack.stop)


def describe(report: FaultReport) -> str:
    lines = [
        f"{report.backend} / {report.fault.title}: tried {report.tried}, acknowledged {report.acknowledged},"
        f" retried {report.retried} ({report.retry_attempts} attempts), lost {report.lost},"
        f" duplicated {report.duplicated}, hidden {report.hidden}, unknown {report.unknown};"
        f" keyless {report.keyless} ({report.keyless_repeated} repeated with the key a 503 named);"
        f" {report.busy} answers 'too many calls in progress';"
        f" opens {report.opens_acknowledged}/{report.opens_tried};"
        f" breaches at due {report.breaches_at_due}/{report.breaches_expected}"
        f" (worst detection {report.worst_detection and round(report.worst_detection, 1)} s);"
        f" outage {report.outage:.1f} s, recovery {report.recovery and round(report.recovery, 1)} s,"
        f" settled {report.settled and round(report.settled, 1)} s; answers {dict(report.statuses)}"
    ]
    lines += [f"  answer: {a}" for a in report.answers[:20]]
    lines += [f"  check: {p}" for p in report.problems[:20]]
    return "\n".join(lines)
