"""Quota per policy year: a ledger of uses, counted by a keyed blind index of the policy number.

The policy number is personal data, so the ledger never holds it: `blind_index` is an HMAC-SHA256
of the normalised number with SLA_BLIND_INDEX_KEY. Equal numbers give equal indexes (so uses can be
counted), and without the key an index cannot be linked back to a number, nor recomputed from a
guessed one.

Race-free on SQLite and PostgreSQL: the claims of one policy are serialized, on SQLite by its single
writer (BEGIN IMMEDIATE), on PostgreSQL by a transaction-scoped advisory lock keyed by the blind
index (`_lock_policy`): read committed alone let two opens with overlapping policy-year starts each
see no use and each insert one (96 of 100 races of 8 opens, tests/api/test_quota.py). A use is a row keyed by
(blind index, service, policy year start, use number), and a request holds at most one use (its id is
unique in the ledger), so an idempotent re-open with the same external_ref never consumes twice.

Blocking: call from a thread.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, select, text
from sqlalchemy.exc import IntegrityError

from sla.policy import normalise_policy_no, policy_year_end
from store.db import write_transaction
from store.models import QuotaClaimRow, table_of

CLAIMS = table_of(QuotaClaimRow)
MAX_ROUNDS = 50  # each lost round means another open won a use; more contenders than this is a 503


def blind_index(key: bytes, policy_no: str) -> str:
    return "bi1_" + hmac.new(key, normalise_policy_no(policy_no).encode(), hashlib.sha256).hexdigest()


class QuotaExceeded(Exception):
    def __init__(self, used: int, quota: int) -> None:
        super().__init__(f"{used} of {quota} uses taken")
        self.used, self.quota = used, quota


class PolicyYearConflict(Exception):
    """The policy already counts uses in another policy year overlapping this one: a policy has one
    schedule of policy years, and a start that disagrees would open a second count."""

    def __init__(self, recorded: date) -> None:
        super().__init__(f"policy year from {recorded.isoformat()} already recorded")
        self.recorded = recorded


class QuotaBusy(Exception):
    """Too many opens raced for the same uses; nothing was claimed."""


@dataclass(frozen=True)
class Claim:
    use_no: int
    quota: int
    created: bool  # False: the request already held this use (a repeated open)
    override_reason: str | None = None


def claim(
    engine: Engine,
    *,
    blind: str,
    service_id: str,
    policy_year_start: date,
    quota: int,
    request_id: str,
    claimed_by: str,
    override_reason: str | None = None,
) -> Claim:
    """Claim the next use for `request_id`, or raise QuotaExceeded (no override) or QuotaBusy."""
    c = CLAIMS.c
    of_year = (c.blind_index == blind, c.service_id == service_id, c.policy_year_start == policy_year_start)
    for _ in range(MAX_ROUNDS):
        try:
            with write_transaction(engine) as connection:
                _lock_policy(connection, blind)
                held = _held(connection, request_id)
                if held is not None:
                    return held
                _check_schedule(connection, blind, policy_year_start)
                used, last = connection.execute(select(func.count(), func.max(c.use_no)).where(*of_year)).one()
                if used >= quota and override_reason is None:
                    # PostgreSQL reads each statement at its own snapshot (read committed): a use this
                    # request's twin committed after the first look is counted, so look again.
                    held = _held(connection, request_id)
                    if held is not None:
                        return held
                    raise QuotaExceeded(int(used), quota)
                use_no = int(last or 0) + 1
                granted = override_reason if used >= quota else None  # an override only where one was needed
                connection.execute(
                    CLAIMS.insert().values(
                        blind_index=blind,
                        service_id=service_id,
                        policy_year_start=policy_year_start,
                        use_no=use_no,
                        request_id=request_id,
                        quota=quota,
                        claimed_at=datetime.now(UTC),
                        claimed_by=claimed_by,
                        override_reason=granted,
                    )
                )
                return Claim(use_no, quota, True, granted)
        except IntegrityError:
            continue  # another open took this use number (or this request) first: count again
    raise QuotaBusy(f"more than {MAX_ROUNDS} concurrent opens for one policy and service")


def _lock_policy(connection: Connection, blind: str) -> None:
    """PostgreSQL: hold the policy's advisory lock until this transaction ends (every service of the
    policy: the policy-year schedule is checked across them). SQLite has one writer at a time already."""
    if connection.dialect.name == "postgresql":
        key = int(blind.removeprefix("bi1_")[:16], 16) - 2**63  # 64 bits of the index, as a signed bigint
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _check_schedule(connection: Connection, blind: str, start: date) -> None:
    """Raise PolicyYearConflict when the policy (any service) counts in a year that overlaps
    [start, anniversary) without being it."""
    c = CLAIMS.c
    earliest = date(start.year - 1, start.month, min(start.day, 28))
    recorded = connection.execute(
        select(c.policy_year_start)
        .where(c.blind_index == blind, c.policy_year_start > earliest, c.policy_year_start < policy_year_end(start))
        .distinct()
    ).scalars()
    for other in recorded:
        if other != start and start < policy_year_end(other):  # the query kept only other < start's end
            raise PolicyYearConflict(other)


def _held(connection: Connection, request_id: str) -> Claim | None:
    """The use this request already holds (a repeated open), if any."""
    row = claim_of(connection, request_id)
    return None if row is None else Claim(row.use_no, row.quota, False, row.override_reason)


def release(engine: Engine, request_id: str) -> None:
    """Give the use back: the open that claimed it failed before its workflow started."""
    with write_transaction(engine) as connection:
        connection.execute(delete(CLAIMS).where(CLAIMS.c.request_id == request_id))


def claim_of(connection: Connection, request_id: str) -> Row[Any] | None:
    return connection.execute(select(CLAIMS).where(CLAIMS.c.request_id == request_id)).first()
