"""Group commit: threads that write at the same time share one transaction and one commit.

A commit is the dearest part of a small write (a flush to disk, a round trip, a turn at SQLite's single
writer lock). Each caller hands its item to the group and waits. The first caller with no batch running
leads: it takes every pending item, runs them as one batch, hands each caller its own outcome, then
passes the lead to the oldest item that arrived meanwhile, so no caller waits behind more than the batch
in flight and the one after it. The batch function returns one outcome per item, a value or the
exception that item alone raised; an exception of the batch itself (its commit failed) is every item's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T, R]):
    item: T
    wake: threading.Event = field(default_factory=threading.Event)
    resolved: bool = False
    value: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    def __init__(self, run_batch: Callable[[Sequence[T]], Sequence[R | BaseException]]) -> None:
        self._run_batch = run_batch
        self._guard = threading.Lock()
        self._pending: list[_Slot[T, R]] = []
        self._leading = False
        self._unanswered = 0

    def submit(self, item: T) -> R:
        """Run `item` in the next batch; its own outcome (its value, or its exception raised here)."""
        slot: _Slot[T, R] = _Slot(item)
        with self._guard:
            self._pending.append(slot)
            self._unanswered += 1
            follower, self._leading = self._leading, True
        if follower:
            slot.wake.wait()
        if not slot.resolved:  # no batch was running, or the last one passed the lead to this item
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.value  # type: ignore[return-value]

    def waiting(self) -> int:
        """Items handed in and not answered yet (pending, or in the batch running)."""
        with self._guard:
            return self._unanswered

    def _lead(self) -> None:
        with self._guard:
            batch, self._pending = self._pending, []
        try:
            outcomes: Sequence[R | BaseException] = self._run_batch([slot.item for slot in batch])
        except BaseException as error:  # the batch as a whole failed: so did each of its items
            outcomes = [error] * len(batch)
        with self._guard:
            successor = self._pending[0] if self._pending else None
            self._leading = successor is not None
            self._unanswered -= len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                slot.error = outcome
            else:
                slot.value = outcome
            slot.resolved = True
            slot.wake.set()
        if successor is not None:
            successor.wake.set()
