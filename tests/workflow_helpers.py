"""Driving a ServiceRequestWorkflow in tests: open, send events, read the read model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.catalog_files import default_catalog
from clients.opening import open_request
from workflows.messages import Insured, RecordEventInput, RecordEventResult, RequestView
from workflows.service_request import ServiceRequestWorkflow

T = TypeVar("T")
# A canary: if these strings ever appear outside encrypted payloads, personal data leaked.
INSURED = Insured(name="测试金丝雀张三", id_number="110101199003071234")
POLICY = "POLICY-CANARY-0001"


async def open_test_request(
    client: Client, task_queue: str, service_id: str, opened_at: datetime, **kw: Any
) -> WorkflowHandle[ServiceRequestWorkflow, RequestView]:
    return await open_request(
        client,
        default_catalog(),
        task_queue=task_queue,
        service_id=service_id,
        vendor_id=kw.pop("vendor_id", "vendor-reliable"),
        policy_no=POLICY,
        insured=INSURED,
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


async def send(
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
