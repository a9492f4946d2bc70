"""The write side's use of the quota ledger (store/quota.py): an open of a service with
`quota_per_policy_year` claims a use before its workflow starts, counted by a blind index of the
policy number. Beyond the quota it answers 409 `quota.policy_year_exceeded` with the entry's lines,
unless an admin gives `quota_override_reason` (recorded with the use, shown in the audit pack). The
use is given back only when the open failed and no workflow holds it (`give_back`: a twin open with
the same external_ref may have started it); a cancelled request keeps its use: the manuals count a
cancelled or missed service as used (README, Quota)."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem
from api.schemas import RequestCreate
from api.state import AppState
from sla.calendar.timeutil import SHANGHAI
from sla.catalog.model import ServiceEntry
from sla.policy import policy_year_end
from store import quota as quotas
from store.keys import Principal
from workflows.ids import request_workflow_id

KEPT_BY_WORKFLOW = "kept: the request's workflow runs (a twin open with its external_ref failed after claiming)"


def policy_year_start(body: RequestCreate, opened_at: datetime) -> date:
    """The policy year the request counts in: the given start, else 1 January of the opening's year
    (Asia/Shanghai). The opening must fall inside [start, anniversary)."""
    opened_day = opened_at.astimezone(SHANGHAI).date()
    start = body.policy_year_start or date(opened_day.year, 1, 1)
    if not start <= opened_day < policy_year_end(start):
        raise Problem(
            422,
            "Unprocessable Content",
            f"policy_year_start {start.isoformat()} does not begin the policy year of the opening "
            f"({opened_day.isoformat()}): the opening must fall on or after it and before its anniversary "
            f"{policy_year_end(start).isoformat()}",
            rule="quota.policy_year_mismatch",
        )
    return start


class QuotaProblem(Problem):
    """409 with the rule, the entry's lines and the count (problem+json extension member `quota`)."""

    def __init__(self, entry: ServiceEntry, used: int, start: date) -> None:
        limit = entry.quota_per_policy_year
        super().__init__(
            409,
            "Conflict",
            f"{entry.id} allows {limit} use(s) per policy year ({entry.quota_note}); this policy has used "
            f"{used} in the policy year from {start.isoformat()}. An admin may open it with quota_override_reason.",
            rule="quota.policy_year_exceeded",
            source=f"{entry.source.cite()} (catalog {entry.id})",
        )
        self.quota = {"limit": limit, "used": used, "policy_year_start": start.isoformat(), "note": entry.quota_note}

    def response(self, instance: str, **extra: Any) -> Any:
        return super().response(instance, quota=self.quota, **extra)


def claim_quota(
    state: AppState, principal: Principal, body: RequestCreate, request_id: str, now: datetime, *, keep: bool = False
) -> bool:
    """Claim one use of the service's quota for this request; True when this call claimed it (and
    must give it back if the open fails). Services without a quota claim nothing. `keep`: the request's
    workflow runs, so it holds a use even beyond the quota (recorded as an override saying why)."""
    entry = state.catalog.get(body.service_id)
    if entry.quota_per_policy_year is None or not state.settings.quota_enforced:
        return False
    key = state.settings.blind_index_secret()
    if key is None:
        raise Problem(
            503,
            "Service Unavailable",
            f"{entry.id} has a quota per policy year and SLA_BLIND_INDEX_KEY is not set, so uses cannot be "
            "counted; the operator must set it (README, Quota)",
            rule="quota.blind_index_key_missing",
        )
    start = policy_year_start(body, body.opened_at or now)
    try:
        claimed = quotas.claim(
            state.engine,
            blind=quotas.blind_index(key, body.policy_no),
            service_id=entry.id,
            policy_year_start=start,
            quota=entry.quota_per_policy_year,
            request_id=request_id,
            claimed_by=principal.sender,
            override_reason=KEPT_BY_WORKFLOW if keep else body.quota_override_reason,
        )
    except quotas.QuotaExceeded as exceeded:
        raise QuotaProblem(entry, exceeded.used, start) from None
    except quotas.PolicyYearConflict as conflict:
        raise Problem(
            409,
            "Conflict",
            f"this policy already counts its uses in the policy year from {conflict.recorded.isoformat()}, which "
            f"overlaps the one from {start.isoformat()}: send policy_year_start as the policy's anniversary, "
            "the same for every request of the policy",
            rule="quota.policy_year_conflict",
            source=f"{entry.source.cite()} (catalog {entry.id})",
        ) from None
    except quotas.QuotaBusy:
        raise Problem(
            503, "Service Unavailable", "too many opens at once for this policy; retry", headers={"Retry-After": "1"}
        ) from None
    return claimed.created


async def keep_claim(
    state: AppState, principal: Principal, body: RequestCreate, request_id: str, now: datetime
) -> None:
    """The request's workflow runs, so it holds one use (a no-op when its use is still there)."""
    await run_in_threadpool(partial(claim_quota, keep=True), state, principal, body, request_id, now)


async def _workflow_runs(state: AppState, request_id: str) -> bool | None:
    """Whether the request's workflow exists, as Temporal says; None when it cannot be asked."""
    try:
        client = await state.client()
        await client.get_workflow_handle(request_workflow_id(request_id)).describe()
    except RPCError as error:
        return False if error.status is RPCStatusCode.NOT_FOUND else None
    except Exception:  # unreachable (the lazy client connects here)
        return None
    return True


async def give_back(state: AppState, principal: Principal, body: RequestCreate, request_id: str, now: datetime) -> None:
    """Give back the use this open claimed, only when no workflow holds it: a twin open with the same
    external_ref (the same request id) may have started the workflow while this one failed. When
    Temporal cannot tell, the use stays: a retry with that external_ref finds it held, not spent twice."""
    if body.external_ref is None:  # a random request id: no twin can have started it
        await run_in_threadpool(quotas.release, state.engine, request_id)
        return
    if await _workflow_runs(state, request_id) is not False:
        return
    await run_in_threadpool(quotas.release, state.engine, request_id)
    if await _workflow_runs(state, request_id):  # a twin started it meanwhile; it claims again itself too
        await keep_claim(state, principal, body, request_id, now)
