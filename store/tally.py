"""What one request adds to the tallies, and applying the difference in the writer's transaction.

A request row stores its own contribution (`RequestRow.tallied`), so a write takes back exactly what
the stored state added and adds what the new state adds, whatever wrote the stored state (an earlier
revision, an abandoned attempt, or nothing). Counts never drift, retried writes never count twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from sla.engine.reading import counts_as_open
from store.models import OpenClockTallyRow, OpenRequestTallyRow, OutcomeTallyRow
from store.upsert import increment

REQUEST, OUTCOME, OPEN_CLOCK = "request", "outcome", "open"
Key = tuple[Any, ...]


@dataclass(frozen=True)
class ClockFacts:
    """The fields of a clock the tallies count (from a snapshot or a stored row)."""

    clock_id: str
    state: str
    phase: str
    outcome: str | None
    working_days_used: float
    provisional: bool
    stopped_at: datetime | None


def working_days_e4(days: float) -> int:
    """Working days as an exact integer (the engine rounds them to 4 decimals)."""
    return round(days * 10_000)


def tenths_bin(days: float) -> int:
    """The tenth of a working day a value falls in, rounded up: 7.43 -> 75 (the 7.5 bin)."""
    return -(-working_days_e4(days) // 1000)


def contribution(
    status: str, insurer_id: str, vendor_id: str, service_id: str, clocks: Iterable[ClockFacts]
) -> Counter[Key]:
    """Tally key -> amount. Outcome keys carry working days as a second, separate key."""
    labels = (insurer_id, vendor_id, service_id)
    counts: Counter[Key] = Counter()
    if status == "open":
        counts[(REQUEST, *labels)] += 1
    for clock in clocks:
        if clock.outcome is not None:
            key = (OUTCOME, *labels, clock.clock_id, clock.outcome, tenths_bin(clock.working_days_used))
            counts[key] += 1
            counts[(*key, "e4")] += working_days_e4(clock.working_days_used)
        if counts_as_open(status, clock.state, clock.stopped_at):
            counts[(OPEN_CLOCK, *labels, clock.clock_id, clock.phase, clock.provisional)] += 1
    return counts


def encode(counts: Mapping[Key, int]) -> list[list[Any]]:
    """For the JSON column: [[key..., amount], ...] in a stable order."""
    return [[*key, amount] for key, amount in sorted(counts.items(), key=lambda kv: repr(kv[0])) if amount]


def decode(stored: list[list[Any]] | None) -> Counter[Key]:
    return Counter({tuple(item[:-1]): int(item[-1]) for item in stored or []})


def apply_difference(connection: Connection, before: Counter[Key], after: Counter[Key]) -> None:
    """Add after - before to the tally tables. Keys are applied in sorted order, so two concurrent
    writers always lock tally rows in the same order (no deadlock on PostgreSQL)."""
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in set(before) | set(after)}
    outcome_sums: dict[Key, int] = {}
    for key, amount in delta.items():
        if key[0] == OUTCOME and key[-1] == "e4":
            outcome_sums[key[:-1]] = amount
    for key in sorted((k for k in delta if not (k[0] == OUTCOME and k[-1] == "e4")), key=repr):
        amount = delta[key]
        kind, rest = key[0], key[1:]
        if kind == REQUEST:
            if amount:
                increment(
                    connection,
                    OpenRequestTallyRow,
                    dict(zip(("insurer_id", "vendor_id", "service_id"), rest, strict=True)),
                    {"count": amount},
                )
        elif kind == OPEN_CLOCK:
            if amount:
                names = ("insurer_id", "vendor_id", "service_id", "clock_id", "phase", "provisional")
                increment(connection, OpenClockTallyRow, dict(zip(names, rest, strict=True)), {"count": amount})
        else:
            days = outcome_sums.get(key, 0)
            if amount or days:
                names = ("insurer_id", "vendor_id", "service_id", "clock_id", "outcome", "working_days_tenths")
                increment(
                    connection,
                    OutcomeTallyRow,
                    dict(zip(names, rest, strict=True)),
                    {"count": amount, "working_days_e4": days},
                )
