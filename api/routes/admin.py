"""Administration of the read model: rebuild it from the workflows, or verify it (readmodel/rebuild.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.access import Action, require
from api.deps import PrincipalDep, StateDep
from api.problems import PROBLEM_RESPONSES
from readmodel import rebuild as read_model
from runtime.codec import EncryptionCodec

router = APIRouter(prefix="/v1/admin/read-model", tags=["admin"])


@router.post("/rebuild", responses=PROBLEM_RESPONSES)
async def rebuild_read_model(principal: PrincipalDep, state: StateDep) -> dict[str, Any]:
    """Re-project every request Temporal knows from its workflow (admins only): a row already at its
    workflow's position is left alone, a missing or differing one is written again. The summary counts
    requests, clocks, outcomes and the differences found before writing."""
    require(principal, Action.REBUILD_READ_MODEL)
    codec = EncryptionCodec(state.settings.keys())
    summary = await read_model.rebuild(await state.client(), state.engine, codec, state.calendars)
    return summary.as_dict()


@router.post("/verify", responses=PROBLEM_RESPONSES)
async def verify_read_model(principal: PrincipalDep, state: StateDep) -> dict[str, Any]:
    """Compare the read model with every workflow, writing nothing (admins only)."""
    require(principal, Action.REBUILD_READ_MODEL)
    return (await read_model.verify(await state.client(), state.engine)).as_dict()
