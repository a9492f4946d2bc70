"""Workflow ids carry no personal data: `request-<opaque id>`, with an inverse."""

from __future__ import annotations

PREFIX = "request-"


def request_workflow_id(request_id: str) -> str:
    return f"{PREFIX}{request_id}"


def request_id_from_workflow_id(workflow_id: str) -> str:
    if not workflow_id.startswith(PREFIX):
        raise ValueError(f"{workflow_id!r} is not a service-request workflow id")
    return workflow_id[len(PREFIX) :]
