"""Open a service request: pin the catalog entry, build the workflow's input, start it.

The API opens with update-with-start (api/commands.py) on the same input; tests and tools that
drive workflows directly use `open_request`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from sla.calendar.timeutil import require_aware
from sla.catalog.catalog import Catalog
from workflows.ids import request_workflow_id
from workflows.messages import Insured, RecordEventInput, RequestView, ServiceRequestInput
from workflows.service_request import ServiceRequestWorkflow


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_input(
    catalog: Catalog,
    *,
    request_id: str,
    service_id: str,
    vendor_id: str,
    policy_no: str,
    insured: Insured,
    opened_at: datetime,
    external_ref: str | None = None,
    backfill: list[RecordEventInput] | None = None,
    updates_per_run: int | None = None,
) -> ServiceRequestInput:
    entry = catalog.get(service_id)
    pinned = catalog.pin(service_id)
    request = ServiceRequestInput(
        request_id=request_id,
        service_id=service_id,
        vendor_id=vendor_id,
        insurer_id=entry.insurer,
        policy_no=policy_no,
        insured=insured,
        opened_at=require_aware(opened_at, "opened_at"),
        catalog_document=pinned.document,
        catalog_digest=pinned.digest,
        external_ref=external_ref,
        backfill=backfill or [],
    )
    if updates_per_run:
        request.updates_per_run = updates_per_run
    return request


async def open_request(
    client: Client,
    catalog: Catalog,
    *,
    task_queue: str,
    service_id: str,
    vendor_id: str,
    policy_no: str,
    insured: Insured,
    opened_at: datetime,
    external_ref: str | None = None,
    request_id: str | None = None,
    updates_per_run: int | None = None,
) -> WorkflowHandle[ServiceRequestWorkflow, RequestView]:
    request_id = request_id or new_request_id()
    request = request_input(
        catalog,
        request_id=request_id,
        service_id=service_id,
        vendor_id=vendor_id,
        policy_no=policy_no,
        insured=insured,
        opened_at=opened_at,
        external_ref=external_ref,
        updates_per_run=updates_per_run,
    )
    return await client.start_workflow(
        ServiceRequestWorkflow.run,
        request,
        id=request_workflow_id(request_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
