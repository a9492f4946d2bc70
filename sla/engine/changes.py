"""What a recomputation moved: a closed outcome (a correction), a due instant or its provisional flag.

Keys are clock ids, or `(clock_id, instance)` (`ClockView.key`) once a service has per-occurrence
clocks: one clock id then has several instances, each with its own due instant and outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sla.engine.model import Outcome, OutcomeChange

ClockKey = TypeVar("ClockKey", str, tuple[str, int])


def _split(key: str | tuple[str, int]) -> tuple[str, int]:
    return (key, 1) if isinstance(key, str) else key


@dataclass(frozen=True)
class DueChange:
    clock_id: str
    old_due_at: datetime | None
    new_due_at: datetime | None
    old_provisional: bool
    new_provisional: bool
    instance: int = 1
    reason: str = ""  # why it was recomputed (a calendar load), and when (set by the caller)
    at: datetime | None = None

    @property
    def moved_by_seconds(self) -> int | None:
        if self.old_due_at is None or self.new_due_at is None:
            return None
        return int((self.new_due_at - self.old_due_at).total_seconds())


def due_changes(
    before: Mapping[ClockKey, tuple[datetime | None, bool]],
    after: Iterable[tuple[ClockKey, datetime | None, bool]],
) -> list[DueChange]:
    """`before`: key -> (due_at, provisional); `after`: (key, due_at, provisional) rows."""
    changes = []
    for key, due_at, provisional in after:
        if key not in before:
            continue
        old_due, old_provisional = before[key]
        if old_due != due_at or old_provisional != provisional:
            clock_id, instance = _split(key)
            changes.append(DueChange(clock_id, old_due, due_at, old_provisional, provisional, instance))
    return changes


def outcome_changes(
    before: Mapping[ClockKey, Outcome | None], after: Mapping[ClockKey, Outcome | None], reason: str
) -> list[OutcomeChange]:
    """Closed outcomes (key -> outcome) that differ between two computations of one request.

    A clock that was still open before is not a correction: closing it is ordinary progress.
    """
    changes = []
    for key, previous in before.items():
        if previous is not None and after.get(key) != previous:
            clock_id, instance = _split(key)
            changes.append(OutcomeChange(clock_id, previous, after.get(key), reason, instance))
    return changes
