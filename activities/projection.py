"""The read model, written by the `advance_request` activity: an exactly-once, ordered projection.

`advance_request` is a local activity, so it runs inside a workflow task. A task can fail or time
out after its activity has written, and its retry may see a different set of concurrent updates:
the stored rows are then those of an attempt Temporal never committed. Two rules make the result
depend only on the workflow's committed state:

1. Every write carries its position (the run, history length of the task, revision, attempt
   scheduled time; a request that continued as new starts each run's history length again). A
   write whose position is not newer than the stored one changes nothing; a later task,
   or a later attempt of the same task, replaces what an abandoned attempt wrote.
2. A write is incremental (only the rows this change touches) when the stored position is the one
   the workflow last committed; otherwise the stored rows are not the workflow's and the request
   is rewritten whole. The tallies are moved by the difference between what the stored row says it
   contributed and what the new state contributes, so they stay exact in both cases.

A write happens in one transaction with SQLAlchemy Core upserts, off the event loop (the activity is
synchronous and runs on the worker's activity thread pool). Writes that arrive together share that
transaction and its commit (ProjectionWriter.write_all); each applies both rules on its own, and one
that fails is left out and fails alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Connection, Engine, Table, bindparam, delete, select, update

from runtime.codec import EncryptionCodec, seal_text
from sla.catalog.model import Party
from sla.catalog.parse import owing_parties
from sla.engine.changes import DueChange
from sla.engine.model import ClockView, Outcome, OutcomeChange, RecordedEvent
from sla.engine.reading import at_risk_from, recorded_phase
from sla.engine.review import CorrectionReview
from sla.events import CLOSING_EVENTS
from store.db import write_transaction
from store.group_commit import GroupCommit
from store.models import (
    ClockOutcomeRow,
    ClockRow,
    CorrectionReviewRow,
    CorrectionRow,
    EventRow,
    RecomputeRow,
    RequestRow,
    ThresholdRow,
    table_of,
)
from store.tally import ClockFacts, Key, apply_difference, contribution, decode, encode
from store.upsert import insert_missing, upsert
from workflows.messages import PersonalData, RequestView, WritePosition

REQUESTS, CLOCKS, EVENTS = table_of(RequestRow), table_of(ClockRow), table_of(EventRow)
OUTCOMES, WARNINGS = table_of(ClockOutcomeRow), table_of(ThresholdRow)
CORRECTIONS, RECOMPUTES = table_of(CorrectionRow), table_of(RecomputeRow)
REVIEWS = table_of(CorrectionReviewRow)
CHILD_TABLES = (EVENTS, CLOCKS, OUTCOMES, WARNINGS, CORRECTIONS, RECOMPUTES, REVIEWS)

# The statements every write runs, built once: building a statement costs more than running it.
# Their keys are bound by name (b_*, never a column's name: an UPDATE's SET comes from the other keys).
_REQUEST_KEY = REQUESTS.c.id == bindparam("b_id")
_STORED = (
    select(
        REQUESTS.c.written_run,
        REQUESTS.c.revision,
        REQUESTS.c.written_history_length,
        REQUESTS.c.written_attempt_ns,
        REQUESTS.c.tallied,
    )
    .where(_REQUEST_KEY)
    .with_for_update()
)
_UPDATE_REQUEST = update(REQUESTS).where(_REQUEST_KEY)
_PINNED_TERMS = select(REQUESTS.c.pinned_terms).where(_REQUEST_KEY)


def _of_clock_instance(table: Table) -> tuple[ColumnElement[bool], ...]:
    """A clock instance's rows of `table`, its key bound by name (see _instance_key)."""
    return (
        table.c.request_id == bindparam("b_request_id"),
        table.c.clock_id == bindparam("b_clock_id"),
        table.c.instance == bindparam("b_instance"),
    )


def _instance_key(request_id: str, clock_id: str, instance: int) -> dict[str, Any]:
    return {"b_request_id": request_id, "b_clock_id": clock_id, "b_instance": instance}


_UPDATE_OUTCOME = update(OUTCOMES).where(*_of_clock_instance(OUTCOMES))
_DELETE_OUTCOME = delete(OUTCOMES).where(*_of_clock_instance(OUTCOMES))
_WARNINGS_OF_REQUEST = select(
    WARNINGS.c.clock_id, WARNINGS.c.instance, WARNINGS.c.cycle, WARNINGS.c.fraction, WARNINGS.c.fired_at
).where(WARNINGS.c.request_id == bindparam("b_request_id"))

# Each child table's rows of one request: (select, delete), for a request rewritten whole.
_OF_REQUEST = {
    t.name: (
        select(t).where(t.c.request_id == bindparam("b_request_id")),
        delete(t).where(t.c.request_id == bindparam("b_request_id")),
    )
    for t in CHILD_TABLES
}

# A clock instance's stored warnings: (cycle, fraction) -> fired_at.
Warnings = dict[tuple[int, float], datetime | None]


def _json(value: Any) -> Any:
    """JSON-ready copy of nested snapshots (datetimes as ISO strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


# The stored copy of a clock's view. pydantic-core copies the dataclass ~3x faster than
# dataclasses.asdict; its own JSON mode would be faster still but writes UTC as "Z", and the copy must
# hold what asdict gave (tests/workflows/test_projection_json.py holds them equal).
_CLOCK = TypeAdapter(ClockView)


def clock_json(clock: ClockView) -> dict[str, Any]:
    return _json(_CLOCK.dump_python(clock))  # type: ignore[no-any-return]


def _facts(clock: ClockView, parties: dict[str, str]) -> ClockFacts:
    return ClockFacts(
        clock.clock_id,
        _party(parties, clock),
        clock.state,
        recorded_phase(clock).value,
        clock.outcome,
        clock.working_days_used,
        clock.provisional,
        clock.stopped_at,
        clock.due_at,
    )


def _position_of(stored: Any) -> WritePosition:
    return WritePosition(stored.written_history_length, stored.revision, stored.written_attempt_ns, stored.written_run)


@dataclass(frozen=True)
class Change:
    """One change of a request: the view before and after, and the records it added."""

    before: RequestView
    after: RequestView
    position: WritePosition
    committed: WritePosition | None  # the position the workflow last committed (None: never written)
    catalog_version: int
    personal: PersonalData | None = None
    catalog_document: dict[str, Any] | None = None
    new_event: RecordedEvent | None = None
    corrections: tuple[OutcomeChange, ...] = ()
    recomputes: tuple[DueChange, ...] = ()
    review: CorrectionReview | None = None  # an event held for the insurer's review, or its decision


class _FailedWrite(Exception):
    """One write of a batch failed: the batch is rolled back and run again without it."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index, self.error = index, error


class ProjectionWriter:
    """Writes changes to the read model. Concurrent writes (the activity threads of one worker) are
    grouped (store/group_commit.py): one transaction and one commit for every write pending at that
    moment, each write still applying its own position rule (the module docstring)."""

    def __init__(self, engine: Engine, codec: EncryptionCodec) -> None:
        self.engine = engine
        self.codec = codec
        self._group: GroupCommit[Change, bool] = GroupCommit(self.write_all)

    def write(self, change: Change) -> bool:
        """Write `change.after`. False when the stored state is at or past this position (nothing written)."""
        return self._group.submit(change)

    def waiting(self) -> int:
        """Writes handed in and not answered yet."""
        return self._group.waiting()

    def write_all(self, changes: Sequence[Change]) -> list[bool | Exception]:
        """Write `changes` in one transaction: per change, whether it wrote, or the exception it alone
        raised (the transaction is rolled back and run again without it, so it fails only its own
        activity). Requests are written in id order and the tallies last, in key order, so two
        transactions lock rows in one order (no deadlock on PostgreSQL)."""
        outcomes: dict[int, bool | Exception] = {}
        order = sorted(range(len(changes)), key=lambda i: (changes[i].after.request_id, changes[i].position.key()))
        while order:
            try:
                with write_transaction(self.engine) as connection:
                    written = self._write_batch(connection, [changes[i] for i in order])
            except _FailedWrite as failed:
                outcomes[order.pop(failed.index)] = failed.error
                continue
            outcomes.update(zip(order, written, strict=True))
            break
        return [outcomes[i] for i in range(len(changes))]

    def _write_batch(self, connection: Connection, changes: Sequence[Change]) -> list[bool]:
        tallies: Counter[Key] = Counter()  # the batch's tally difference, applied once at the end
        written = []
        for index, change in enumerate(changes):
            try:
                written.append(self._write_one(connection, change, tallies))
            except Exception as error:
                raise _FailedWrite(index, error) from error
        apply_difference(connection, Counter(), tallies)
        return written

    def _write_one(self, connection: Connection, change: Change, tallies: Counter[Key]) -> bool:
        now = datetime.now(UTC)
        rid = change.after.request_id
        stored = connection.execute(_STORED, {"b_id": rid}).first()
        stored_key = _position_of(stored).key() if stored else None
        if stored_key is not None and stored_key >= change.position.key():
            return False  # a retry of this attempt, or a newer write: nothing to do
        incremental = stored_key is not None and change.committed is not None and stored_key == change.committed.key()
        pinned = change.catalog_document
        if pinned is None and stored is not None:
            pinned = connection.execute(_PINNED_TERMS, {"b_id": rid}).scalar()
        parties = owing_parties(pinned)
        after_tally = contribution(
            change.after.status,
            change.after.insurer_id,
            change.after.vendor_id,
            change.after.service_id,
            [_facts(c, parties) for c in change.after.clocks],
        )
        self._write_request(
            connection, change, now, exists=stored is not None, whole=not incremental, tallied=encode(after_tally)
        )
        if incremental:
            self._write_changed_children(connection, change, parties, now)
        else:
            self._rewrite_children(connection, change.after, parties, now)
        tallies.update(after_tally)
        tallies.subtract(decode(stored.tallied if stored else None))
        return True

    # -- the request row ---------------------------------------------------------------------------
    def _write_request(
        self,
        connection: Connection,
        change: Change,
        now: datetime,
        *,
        exists: bool,
        whole: bool,
        tallied: list[list[Any]],
    ) -> None:
        view = change.after
        closing = [e for e in view.events if e.type in CLOSING_EVENTS]
        values: dict[str, Any] = {
            "service_id": view.service_id,
            "catalog_version": change.catalog_version,
            "catalog_digest": view.catalog_digest,
            "insurer_id": view.insurer_id,
            "vendor_id": view.vendor_id,
            "external_ref": view.external_ref,
            "status": view.status,
            "opened_at": view.opened_at,
            "closed_at": closing[0].occurred_at if closing else None,
            "closed_received_at": closing[0].received_at if closing else None,
            "revision": view.revision,
            "written_run": change.position.run,
            "written_history_length": change.position.history_length,
            "written_attempt_ns": change.position.attempt_ns,
            "calendar_fingerprint": view.calendar_fingerprint,
            "calendar_sources": view.calendar_sources,
            "advisories": [_json(asdict(a)) for a in view.advisories],
            "tallied": tallied,
            "updated_at": now,
        }
        # What never changes for a request is written with the whole request only: an incremental write's
        # stored row already holds it (sealing the personal data again is most of a small write's CPU).
        if whole and change.catalog_document is not None:
            values["pinned_terms"] = change.catalog_document
        if whole and change.personal is not None:
            values["sealed_personal_data"] = self._sealed(change.personal)
        if exists:
            connection.execute(_UPDATE_REQUEST, {"b_id": view.request_id, **values})
        else:
            connection.execute(REQUESTS.insert().values(id=view.request_id, **values))

    def _sealed(self, personal: PersonalData) -> str:
        text = json.dumps({"policy_no": personal.policy_no, **asdict(personal.insured)}, ensure_ascii=False)
        return seal_text(self.codec, text)

    # -- children ----------------------------------------------------------------------------------
    def _write_changed_children(
        self, connection: Connection, change: Change, parties: dict[str, str], now: datetime
    ) -> None:
        """The stored rows are the committed `before`: write only what this change touched. Read once
        (the stored warnings), then write each touched clock."""
        before, after = change.before, change.after
        if change.new_event is not None:
            upsert(connection, EVENTS, [_event_values(after.request_id, change.new_event)])
        old = {(c.clock_id, c.instance): c for c in before.clocks}
        new = {(c.clock_id, c.instance): c for c in after.clocks}
        for key in old.keys() - new.keys():
            self._delete_clock(connection, after.request_id, *key)
        changed = [c for key, c in new.items() if old.get(key) != c]
        upsert(connection, CLOCKS, [_clock_values(after, c, parties) for c in changed])
        moved = [c for c in changed if _warnings_moved(old.get((c.clock_id, c.instance)), c)]
        stored = self._stored_warnings(connection, after.request_id) if moved else {}
        for clock in changed:
            previous = old.get((clock.clock_id, clock.instance))
            self._write_outcome(connection, after, clock, parties, previous.outcome if previous else None, now)
        for clock in moved:
            self._sync_thresholds(
                connection, after.request_id, clock, stored.get((clock.clock_id, clock.instance), {}), now
            )
        insert_missing(connection, CORRECTIONS, [_correction_values(after.request_id, c) for c in change.corrections])
        insert_missing(connection, RECOMPUTES, [_recompute_values(after.request_id, r) for r in change.recomputes])
        if change.review is not None:
            upsert(connection, REVIEWS, [_review_values(after.request_id, change.review)])

    def _rewrite_children(
        self, connection: Connection, view: RequestView, parties: dict[str, str], now: datetime
    ) -> None:
        """The stored rows are not the workflow's (first write, or an abandoned attempt's): replace them,
        keeping the first recorded_at of outcomes and warnings that still hold."""
        rid = view.request_id
        outcomes_recorded = {
            (r.clock_id, r.instance, r.outcome): (r.recorded_at, r.corrected)
            for r in connection.execute(_OF_REQUEST[OUTCOMES.name][0], {"b_request_id": rid})
        }
        warnings_recorded = {
            (r.clock_id, r.instance, r.cycle, r.fraction): r.recorded_at
            for r in connection.execute(_OF_REQUEST[WARNINGS.name][0], {"b_request_id": rid})
        }
        for table in CHILD_TABLES:
            connection.execute(_OF_REQUEST[table.name][1], {"b_request_id": rid})
        upsert(connection, EVENTS, [_event_values(rid, e) for e in view.events])
        upsert(connection, CLOCKS, [_clock_values(view, c, parties) for c in view.clocks])
        corrected_clocks = {(c.clock_id, c.instance) for c in view.corrections}
        outcomes = []
        for clock in view.clocks:
            if clock.outcome is not None:
                key = (clock.clock_id, clock.instance)
                recorded_at, corrected = outcomes_recorded.get((*key, clock.outcome), (now, False))
                corrected = corrected or key in corrected_clocks
                outcomes.append(_outcome_values(view, clock, parties, recorded_at, corrected))
        upsert(connection, OUTCOMES, outcomes)
        upsert(
            connection,
            ThresholdRow,
            [
                _threshold_values(
                    rid,
                    clock,
                    t.fraction,
                    t.at,
                    warnings_recorded.get((clock.clock_id, clock.instance, clock.cycle, t.fraction), now),
                )
                for clock in view.clocks
                for t in clock.thresholds
                if t.fired and t.at is not None
            ],
        )
        insert_missing(connection, CORRECTIONS, [_correction_values(rid, c) for c in view.corrections])
        insert_missing(connection, RECOMPUTES, [_recompute_values(rid, r) for r in view.recomputes])
        upsert(connection, REVIEWS, [_review_values(rid, r) for r in view.reviews])

    @staticmethod
    def _delete_clock(connection: Connection, request_id: str, clock_id: str, instance: int) -> None:
        for table in (CLOCKS, OUTCOMES, WARNINGS):
            connection.execute(
                delete(table).where(*_of_clock_instance(table)), _instance_key(request_id, clock_id, instance)
            )

    @staticmethod
    def _write_outcome(
        connection: Connection,
        view: RequestView,
        clock: ClockView,
        parties: dict[str, str],
        previous: str | None,
        now: datetime,
    ) -> None:
        key = _instance_key(view.request_id, clock.clock_id, clock.instance)
        if clock.outcome is None:
            if previous is not None:  # a retroactive event reopened it: the correction row says why
                connection.execute(_DELETE_OUTCOME, key)
            return
        if previous is None:
            upsert(connection, OUTCOMES, [_outcome_values(view, clock, parties, now, False)])
            return
        values = _outcome_values(view, clock, parties, now, True)
        if previous == clock.outcome:  # same outcome, details moved: keep when it was first recorded
            values.pop("recorded_at")
            values.pop("corrected")
        changed = {k: v for k, v in values.items() if k not in ("request_id", "clock_id", "instance")}
        connection.execute(_UPDATE_OUTCOME, key | changed)

    @staticmethod
    def _stored_warnings(connection: Connection, request_id: str) -> dict[tuple[str, int], Warnings]:
        """The request's stored warnings, by clock instance: one read for every clock a change touched."""
        stored: dict[tuple[str, int], Warnings] = {}
        for r in connection.execute(_WARNINGS_OF_REQUEST, {"b_request_id": request_id}):
            stored.setdefault((r.clock_id, r.instance), {})[(r.cycle, r.fraction)] = r.fired_at
        return stored

    @staticmethod
    def _sync_thresholds(
        connection: Connection, request_id: str, clock: ClockView, stored: Warnings, now: datetime
    ) -> None:
        """Warnings as the current computation has them: a retroactive event can revoke one (a pause
        dated before it); rows that still hold keep their first recorded_at."""
        fired = {(clock.cycle, t.fraction): t.at for t in clock.thresholds if t.fired and t.at is not None}
        key = _instance_key(request_id, clock.clock_id, clock.instance)
        w = WARNINGS.c
        of_clock = _of_clock_instance(WARNINGS)
        for cycle, fraction in stored.keys() - fired.keys():
            connection.execute(delete(WARNINGS).where(*of_clock, w.cycle == cycle, w.fraction == fraction), key)
        for (cycle, fraction), at in fired.items():
            if (cycle, fraction) not in stored:
                insert_missing(connection, WARNINGS, [_threshold_values(request_id, clock, fraction, at, now)])
            elif stored[(cycle, fraction)] != at:
                connection.execute(
                    update(WARNINGS).where(*of_clock, w.cycle == cycle, w.fraction == fraction).values(fired_at=at),
                    key,
                )


def _warnings_moved(previous: ClockView | None, clock: ClockView) -> bool:
    """Whether a touched clock's warnings may differ from the stored ones (a new clock, a new cycle,
    a threshold fired or revoked)."""
    return previous is None or (previous.cycle, previous.thresholds) != (clock.cycle, clock.thresholds)


# -- row values ------------------------------------------------------------------------------------
def _event_values(request_id: str, event: RecordedEvent) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "seq": event.seq,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at or event.occurred_at,
        "sender": event.sender,
        "idempotency_key": event.idempotency_key,
        "data": _json(event.data),
    }


def _party(parties: dict[str, str], clock: ClockView) -> str:
    """Who owes the clock, as its pinned entry says (a clock the entry does not name is the vendor's:
    the parser's default)."""
    return parties.get(clock.clock_id, Party.VENDOR.value)


def _clock_labels(view: RequestView, clock: ClockView, parties: dict[str, str]) -> dict[str, Any]:
    """A clock instance's key and the labels it is counted by."""
    return {
        "request_id": view.request_id,
        "clock_id": clock.clock_id,
        "instance": clock.instance,
        "insurer_id": view.insurer_id,
        "vendor_id": view.vendor_id,
        "service_id": view.service_id,
        "party": _party(parties, clock),
    }


def _clock_values(view: RequestView, clock: ClockView, parties: dict[str, str]) -> dict[str, Any]:
    return _clock_labels(view, clock, parties) | {
        "opened_at": view.opened_at,
        "state": clock.state,
        "phase": recorded_phase(clock).value,
        "outcome": clock.outcome,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "stopped_at": clock.stopped_at,
        "working_days_used": clock.working_days_used,
        "provisional": clock.provisional,
        "at_risk_from": at_risk_from(clock),
        "view": clock_json(clock),
    }


def _outcome_values(
    view: RequestView, clock: ClockView, parties: dict[str, str], recorded_at: datetime, corrected: bool
) -> dict[str, Any]:
    assert clock.outcome is not None
    outcome_at = clock.breached_at if clock.outcome is Outcome.BREACHED else clock.stopped_at
    return _clock_labels(view, clock, parties) | {
        "outcome": clock.outcome,
        "outcome_at": outcome_at or recorded_at,
        "due_at": clock.due_at,
        "started_at": clock.started_at,
        "working_days_used": clock.working_days_used,
        "late_by_seconds": clock.late_by_seconds,
        "recorded_at": recorded_at,
        "corrected": corrected,
    }


def _threshold_values(
    request_id: str, clock: ClockView, fraction: float, fired_at: datetime | None, recorded_at: datetime
) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "clock_id": clock.clock_id,
        "instance": clock.instance,
        "cycle": clock.cycle,
        "fraction": fraction,
        "fired_at": fired_at,
        "recorded_at": recorded_at,
    }


def _correction_values(request_id: str, correction: OutcomeChange) -> dict[str, Any]:
    return {"request_id": request_id, **asdict(correction)}


def _recompute_values(request_id: str, recompute: DueChange) -> dict[str, Any]:
    return {"request_id": request_id, **asdict(recompute)}


def _review_values(request_id: str, review: CorrectionReview) -> dict[str, Any]:
    event = review.event
    return {
        "request_id": request_id,
        "correction_id": review.correction_id,
        "event_seq": event.seq,
        "event_type": event.type.value,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "sender": event.sender,
        "event_data": _json(event.data),
        "rule": review.rule,
        "reason": review.reason,
        "changes": [_json(asdict(c)) for c in review.changes],
        "held_at": review.held_at,
        "status": review.status.value,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at,
        "note": review.note,
    }
