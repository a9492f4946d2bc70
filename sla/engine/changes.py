"""What a recomputation moved: a closed outcome (a correction), a due instant or its provisional flag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sla.engine.model import Outcome, OutcomeChange


@dataclass(frozen=True)
class DueChange:
    clock_id: str
    old_due_at: datetime | None
    new_due_at: datetime | None
    old_provisional: bool
    new_provisional: bool

    @property
    def moved_by_seconds(self) -> int | None:
        if self.old_due_at is None or self.new_due_at is None:
            return None
        return int((self.new_due_at - self.old_due_at).total_seconds())


def due_changes(
    before: Mapping[str, tuple[datetime | None, bool]], after: Iterable[tuple[str, datetime | None, bool]]
) -> list[DueChange]:
    """`before`: clock id -> (due_at, provisional); `after`: (clock id, due_at, provisional) rows."""
    changes = []
    for clock_id, due_at, provisional in after:
        if clock_id not in before:
            continue
        old_due, old_provisional = before[clock_id]
        if old_due != due_at or old_provisional != provisional:
            changes.append(DueChange(clock_id, old_due, due_at, old_provisional, provisional))
    return changes


def outcome_changes(
    before: Mapping[str, Outcome | None], after: Mapping[str, Outcome | None], reason: str
) -> list[OutcomeChange]:
    """Closed outcomes (clock id -> outcome) that differ between two computations of one request.

    A clock that was still open before is not a correction: closing it is ordinary progress.
    """
    return [
        OutcomeChange(clock_id, previous, after.get(clock_id), reason)
        for clock_id, previous in before.items()
        if previous is not None and after.get(clock_id) != previous
    ]
