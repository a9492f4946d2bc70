"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError

from api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database or Temporal unreachable"}})
async def readyz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {}

    def ping() -> None:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unreachable: {type(error).__name__}"
    try:
        client = await state.client()
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except (RPCError, RuntimeError) as error:
        checks["temporal"] = f"unreachable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"ready": ready, **checks}, status_code=200 if ready else 503, headers={} if ready else {"Retry-After": "5"}
    )
