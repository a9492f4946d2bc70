"""Hostile input over HTTP, as an attacker or a buggy vendor integration sends it (issue 11): every answer
a 4xx application/problem+json that names the field, never a 5xx, and no request wedged: afterwards each
request an input was aimed at still accepts a valid event, and its events in the read model are the
workflow's (`get_status`), revision included.

The scenario `python -m bench.hostile` measures (bench/hostile.py) and tests/api/test_hostile.py run in
`make test`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, select
from temporalio.client import Client

from harness.hostile_cases import INSURED, NO_BODY, TARGETS, VENDOR, Hostile, all_cases
from sla.calendar.timeutil import SHANGHAI
from store.models import EventRow, RequestRow, table_of
from workflows.ids import request_workflow_id
from workflows.service_request import ServiceRequestWorkflow

PROBLEM = "application/problem+json"


# -- judging ------------------------------------------------------------------------------------------
def problem_failure(status: int, content_type: str, content: bytes, names: str | None = None) -> str | None:
    """Why a 4xx answer is not a clear refusal (None when it is): problem+json whose status is the answer's,
    with a detail, naming the field. A 422 names it in an error's loc, its detail (`field: ...`) or a rule;
    a 409 carries the rule; a 413 or 431 says body or headers."""
    if content_type.split(";")[0].strip() != PROBLEM:
        return f"{status} as {content_type or 'no content type'}"
    try:
        problem = json.loads(content)
    except ValueError:
        return f"{status} with a body that is not JSON"
    if not isinstance(problem, dict) or problem.get("status") != status or not problem.get("detail"):
        return f"{status} problem without status or detail: {content[:200]!r}"
    detail = str(problem["detail"])
    where = " ".join([detail, *(".".join(map(str, e.get("loc", []))) for e in problem.get("errors", []))])
    if names is not None and names not in where:
        return f"{status} does not name {names!r}: {detail[:200]}"
    if status == 409 and not problem.get("rule"):
        return f"409 without a rule: {detail[:200]}"
    if status == 422 and not (problem.get("errors") or problem.get("rule") or _names_a_field(detail)):
        return f"422 naming no field: {detail[:200]}"
    if status in (413, 431) and not detail.startswith(("body", "headers")):
        return f"{status} not saying what is too large: {detail[:200]}"
    return None


def _names_a_field(detail: str) -> bool:
    head, colon, _ = detail.partition(":")
    return bool(colon) and " " not in head.strip()


@dataclass
class ClassTally:
    tried: int = 0
    expected: int = 0
    client_errors: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Report:
    classes: dict[str, ClassTally] = field(default_factory=dict)
    wedged: list[str] = field(default_factory=list)  # requests that no longer accept a valid event
    diverged: list[str] = field(default_factory=list)  # read model and workflow disagree
    seconds: float = 0.0

    def record(self, kind: str, status: int, failure: str | None, expected: bool = True) -> None:
        tally = self.classes.setdefault(kind, ClassTally())
        tally.tried += 1
        tally.client_errors += 400 <= status < 500
        tally.server_errors += status >= 500 or status == 0
        tally.expected += failure is None and expected
        if failure is not None:
            tally.failures.append(failure)

    def merge(self, other: Report) -> None:
        for kind, theirs in other.classes.items():
            mine = self.classes.setdefault(kind, ClassTally())
            mine.tried += theirs.tried
            mine.expected += theirs.expected
            mine.client_errors += theirs.client_errors
            mine.server_errors += theirs.server_errors
            mine.failures += theirs.failures
        self.wedged += other.wedged
        self.diverged += other.diverged

    @property
    def tried(self) -> int:
        return sum(t.tried for t in self.classes.values())

    @property
    def failures(self) -> list[str]:
        found = [f"{kind}: {failure}" for kind, t in self.classes.items() for failure in t.failures]
        return [*found, *(f"wedged: {w}" for w in self.wedged), *(f"diverged: {d}" for d in self.diverged)]

    def line(self, backend: str) -> str:
        client = sum(t.client_errors for t in self.classes.values())
        server = sum(t.server_errors for t in self.classes.values())
        return (
            f"hostile inputs on {backend}: {self.tried} tried, {client} 4xx, {server} 5xx (or no answer), "
            f"{len(self.wedged)} wedged requests, {len(self.diverged)} read models apart from their workflow, "
            f"{len(self.failures)} failures, {self.seconds:.1f} s"
        )

    def table(self) -> str:
        rows = [f"{'input class':32} {'tried':>6} {'as expected':>12} {'4xx':>5} {'5xx':>5}"]
        for kind, t in self.classes.items():
            rows.append(f"{kind:32} {t.tried:6} {t.expected:12} {t.client_errors:5} {t.server_errors:5}")
        return "\n".join(rows)


# -- sending ------------------------------------------------------------------------------------------
@dataclass
class Target:
    service: str
    request_id: str


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        part = min(65536, size - sent)
        sent += part
        yield b"x" * part


async def send_case(http: httpx.AsyncClient, headers: dict[str, str], case: Hostile, request_id: str) -> httpx.Response:
    url = case.path.replace("{request}", request_id)
    if case.params:  # by hand: a lone surrogate goes as its (invalid) UTF-8 bytes, as a hostile client sends it
        url += "?" + urlencode({k: str(v).encode("utf-8", "surrogatepass") for k, v in case.params.items()})
    headers: dict[str, str | bytes] = {**headers, **case.headers}
    content: Any = None
    if case.stream is not None:
        content = _chunks(case.stream)
    elif case.raw is not None:
        content = case.raw
    elif case.body is not NO_BODY:
        content = json.dumps(case.body, ensure_ascii=True).encode()
    if content is not None:
        headers.setdefault("content-type", "application/json")
    return await http.request(case.method, url, content=content, headers=headers)


async def run_case(
    http: httpx.AsyncClient, keys: dict[str, dict[str, str]], case: Hostile, request_id: str, report: Report
) -> None:
    try:
        answer = await send_case(http, keys[case.role], case, request_id)
    except httpx.HTTPError as error:
        report.record(case.kind, 0, f"{case.label}: no answer ({type(error).__name__})")
        return
    failure = None
    if answer.status_code not in case.expect:
        failure = f"{case.label}: {answer.status_code}, expected {sorted(case.expect)}: {answer.text[:200]}"
    elif 400 <= answer.status_code < 500:
        found = problem_failure(answer.status_code, answer.headers.get("content-type", ""), answer.content, case.names)
        failure = found and f"{case.label}: {found}"
    report.record(case.kind, answer.status_code, failure)


async def open_targets(
    http: httpx.AsyncClient, headers: dict[str, str], opened_at: datetime, services: Iterable[str] = TARGETS
) -> dict[str, Target]:
    targets = {}
    for service in services:
        body = {
            "service_id": service,
            "vendor_id": VENDOR,
            "policy_no": "P-HOSTILE",
            "insured": INSURED,
            "opened_at": opened_at.isoformat(),
        }
        answer = await http.post("/v1/requests", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        targets[service] = Target(service, answer.json()["id"])
    return targets


def stored_events(engine: Engine, request_id: str) -> tuple[int, list[tuple[int, str, datetime, dict[str, Any]]]]:
    events, requests = table_of(EventRow), table_of(RequestRow)
    with engine.connect() as connection:
        rows = connection.execute(select(events).where(events.c.request_id == request_id)).all()
        revision = connection.execute(select(requests.c.revision).where(requests.c.id == request_id)).scalar_one()
    return revision, sorted((r.seq, r.type, r.occurred_at, dict(r.data)) for r in rows)


async def check_no_wedge(
    http: httpx.AsyncClient, headers: dict[str, str], engine: Engine, client: Client, target: Target, report: Report
) -> None:
    """The request still takes a valid event, and the read model holds exactly the workflow's events."""
    body = {"type": TARGETS[target.service], "occurred_at": datetime.now(SHANGHAI).isoformat(), "data": {"note": "ok"}}
    try:
        answer = await http.post(f"/v1/requests/{target.request_id}/events", json=body, headers=headers)
        if answer.status_code != 200:
            report.wedged.append(f"{target.service}: a valid event answered {answer.status_code}: {answer.text[:200]}")
    except httpx.HTTPError as error:
        report.wedged.append(f"{target.service}: a valid event got no answer ({type(error).__name__})")
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(target.request_id))
    status = await handle.query(ServiceRequestWorkflow.get_status)
    in_workflow = sorted((e.seq, e.type, e.occurred_at, dict(e.data)) for e in status.events)
    revision, stored = stored_events(engine, target.request_id)
    if stored != in_workflow or revision != status.revision:
        report.diverged.append(
            f"{target.service}: read model revision {revision} with {len(stored)} events, "
            f"workflow revision {status.revision} with {len(in_workflow)}"
        )


async def probe(
    http: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    engine: Engine,
    client: Client,
    cases: Iterable[Hostile] | None = None,
    report: Report | None = None,
) -> Report:
    """Every case, in order, each at the request opened for its service; then the wedge check on each."""
    report = report or Report()
    started = time.perf_counter()
    now = datetime.now(SHANGHAI)
    targets = await open_targets(http, keys["coordinator"], now - timedelta(days=1))
    for case in cases if cases is not None else all_cases(now - timedelta(minutes=1)):
        await run_case(http, keys, case, targets[case.service].request_id, report)
    for target in targets.values():
        await check_no_wedge(http, keys["coordinator"], engine, client, target, report)
    report.seconds = time.perf_counter() - started
    return report
