"""The final state of a request Temporal no longer holds (closed longer ago than the namespace's
retention): its closing run's history, kept in the `request_history` archive (activities/archive.py),
replayed with the current workflow code, and the replayed workflow asked what its last read-model
write projected (the same `get_projection` a live workflow answers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from store.models import HistoryArchiveRow, table_of
from workflows.messages import ProjectionState
from workflows.service_request import ServiceRequestWorkflow

ARCHIVE = table_of(HistoryArchiveRow)


def closing_runs(engine: Engine) -> dict[str, tuple[str, str]]:
    """workflow id -> (request id, history JSON) of every request whose closing run is archived."""
    a = ARCHIVE.c
    with engine.connect() as connection:
        rows = connection.execute(select(a.workflow_id, a.request_id, a.history_json).where(a.closing.is_(True)))
        return {row.workflow_id: (row.request_id, row.history_json) for row in rows}


class _Capture(Interceptor):
    """Keeps the replayed workflow object, to ask it for its state once the history is replayed.
    Unsandboxed: the object must outlive the replay (replaying never runs activities or writes)."""

    def __init__(self) -> None:
        self.instances: list[Any] = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        instances = self.instances

        class Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                instances.append(workflow.instance())
                return await super().execute_workflow(input)

        return Inbound


async def archived_projection(workflow_id: str, history_json: str, converter: DataConverter) -> ProjectionState | None:
    """None when the archived history does not replay with the current code (an audit question, not
    a rebuild's: verification lists it as unreadable)."""
    capture = _Capture()
    replayer = Replayer(
        workflows=[ServiceRequestWorkflow],
        data_converter=converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[capture],
    )
    history = WorkflowHistory.from_json(workflow_id, history_json)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is not None or not capture.instances:
        return None
    state: ProjectionState = capture.instances[0].get_projection()
    return state
