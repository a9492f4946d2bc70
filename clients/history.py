"""Workflow histories for auditors: payloads decoded (the codec decrypts), replay checked, and every
run of a request that continued as new found."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from workflows.service_request import ServiceRequestWorkflow


async def _decode_payloads(message: Message, converter: DataConverter) -> None:
    codec = converter.payload_codec
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            children = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        elif field.is_repeated:
            children = list(value)
        else:
            children = [value]
        for child in children:
            if isinstance(child, Payload):
                if codec is not None:
                    [decoded] = await codec.decode([child])
                    child.CopyFrom(decoded)
            else:
                await _decode_payloads(child, converter)


def _readable(node: Any) -> Any:
    """Turn JSON payloads ({metadata, data} in base64) into their JSON values."""
    if isinstance(node, list):
        return [_readable(n) for n in node]
    if not isinstance(node, dict):
        return node
    metadata = node.get("metadata")
    if isinstance(metadata, dict) and "data" in node and set(node) <= {"metadata", "data"}:
        meta = {k: base64.b64decode(v).decode(errors="replace") for k, v in metadata.items()}
        if meta.get("encoding") == "json/plain":
            return {"metadata": meta, "data": json.loads(base64.b64decode(node["data"]) or b"null")}
        return {"metadata": meta, "data": node["data"]}
    return {k: _readable(v) for k, v in node.items()}


async def decoded_history(history: WorkflowHistory, converter: DataConverter) -> list[dict[str, Any]]:
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        await _decode_payloads(copy, converter)
        events.append(_readable(MessageToDict(copy)))
    return events


async def verify_replay(history: WorkflowHistory, converter: DataConverter) -> str | None:
    """Replay with the current workflow code; None when the recorded decisions follow from it."""
    replayer = Replayer(workflows=[ServiceRequestWorkflow], data_converter=converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return None if result.replay_failure is None else str(result.replay_failure)


def continued_from(history: WorkflowHistory) -> str | None:
    """The run this history's run continued (None for a request's first run)."""
    if not history.events:
        return None
    started = history.events[0].workflow_execution_started_event_attributes
    return started.continued_execution_run_id or None


async def every_run(
    client: Client, workflow_id: str, known: Mapping[str, WorkflowHistory] | None = None
) -> list[tuple[str, WorkflowHistory]]:
    """(run id, history) of every run of a request, first to last: from the latest run back along
    the run each one continued. A run in `known` (archived) is not fetched again, so runs that
    Temporal's retention dropped are still read."""
    known = known or {}
    run_id: str | None = (await client.get_workflow_handle(workflow_id).describe()).run_id
    runs: list[tuple[str, WorkflowHistory]] = []
    while run_id:
        history = known.get(run_id) or await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append((run_id, history))
        run_id = continued_from(history)
    return runs[::-1]
