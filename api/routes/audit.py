"""Audit: the pack and the raw history of one request (api/audit_pack.py builds them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import audit_pack
from api.deps import PrincipalDep, StateDep
from api.problems import PROBLEM_RESPONSES
from api.schemas import Identifier

router = APIRouter(prefix="/v1/requests", tags=["audit"])


@router.get("/{request_id}/audit", responses=PROBLEM_RESPONSES)
async def get_audit_pack(request_id: Identifier, principal: PrincipalDep, state: StateDep) -> dict[str, Any]:
    """Everything an insurer needs to check one request's SLA decisions: pinned terms with sources,
    calendar, events with senders, clock timelines, warnings, recomputes, corrections, outcomes,
    quota, history digest and a replay check with the current code."""
    return await audit_pack.audit_pack(state, principal, request_id)


@router.get("/{request_id}/history", responses=PROBLEM_RESPONSES)
async def get_raw_history(request_id: Identifier, principal: PrincipalDep, state: StateDep) -> dict[str, Any]:
    """The raw workflow history, payloads decoded (personal data included): auditors and admins only."""
    return await audit_pack.raw_history(state, principal, request_id)
