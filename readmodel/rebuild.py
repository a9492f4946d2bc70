"""Rebuild and verify the read model from the request workflows (`slatrack db rebuild` / `db verify`,
`POST /v1/admin/read-model/rebuild`).

The read model is a projection of each request workflow's state. A rebuild lists the workflows
(Temporal visibility: open ones and closed ones within retention), asks each for the state its last
read-model write projected (query `get_projection`: the view and that write's position) and writes
it again through the projection's own writer (activities/projection.py) at that same position:

- a request whose row agrees with its workflow is left alone (it is at that position: the position
  guard would make the write a no-op, so the rebuild does not even take the writer's lock);
- a missing row, or one at an older position, is rewritten whole, tallies moved by the difference;
- a row at the same position whose content differs (tampered, or corrupted) is first demoted to the
  oldest position, only when it is still at that position, so that a newer write of the workflow
  itself is never overwritten by the older state a query returned;
- a row ahead of the workflow's position whose content differs was written by a workflow-task attempt
  Temporal never committed (abandoned in an outage): when the workflow still reports the older
  position after a pause (so it is not a write whose task is about to complete), it is demoted the
  same way, only while it still holds the position it was seen at, and rewritten.

New events keep arriving meanwhile: every workflow write is newer than the state a rebuild read, so
either the rebuild's write is a no-op, or the workflow's next write finds the rebuilt row at exactly
the position it committed and writes incrementally over it.

Verification compares without writing: request status, revision, events count, each clock
instance's state, due instant and outcome, and the rows reports and /metrics count of it (its outcome
row, its fired warnings). A difference is read twice before it is reported, so a
write in flight between the query and the read is not reported as one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlmodel import SQLModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.projection import (
    CHILD_TABLES,
    CLOCKS,
    EVENTS,
    OUTCOMES,
    REQUESTS,
    WARNINGS,
    Change,
    ProjectionWriter,
)
from readmodel.archived import archived_projection, closing_runs
from runtime.codec import EncryptionCodec
from sla.calendar.working import WorkingCalendar
from sla.catalog.parse import parse_pinned
from sla.engine.rules import advisories
from store.calendar import CalendarSource
from store.db import init_schema, write_transaction
from store.models import (
    MonthDaysTallyRow,
    MonthPercentileRow,
    MonthTallyRow,
    OpenClockTallyRow,
    OpenRequestTallyRow,
    OutcomeTallyRow,
    WorkingDaysTallyRow,
    table_of,
)
from workflows.messages import ProjectionState, WritePosition
from workflows.service_request import ServiceRequestWorkflow

REQUEST_WORKFLOWS = 'WorkflowType="ServiceRequestWorkflow"'
# Queries in flight at once: a closed workflow's query replays its history on a worker.
CONCURRENT_QUERIES = 8
QUERY_RETRY_PAUSES = (0.2, 1.0)  # seconds before the second and third attempt
TALLY_TABLES = tuple(
    table_of(row)
    for row in (
        *(OutcomeTallyRow, WorkingDaysTallyRow, OpenClockTallyRow, OpenRequestTallyRow),
        *(MonthTallyRow, MonthDaysTallyRow, MonthPercentileRow),
    )
)
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Difference:
    """One field where the read model and the workflow disagree."""

    request_id: str
    field: str  # "request", "status", "revision", "events", "clock <id>#<instance> state|due_at|outcome"
    read_model: str
    workflow: str

    def line(self) -> str:
        return f"{self.request_id}: {self.field}: read model {self.read_model}, workflow {self.workflow}"


@dataclass
class Summary:
    requests: int = 0
    clocks: int = 0
    outcomes: int = 0
    written: int = 0  # requests whose rows were (re)written
    unchanged: int = 0  # requests already at the workflow's position (no-op)
    differences: list[Difference] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # workflow ids whose state could not be queried
    archived: int = 0  # requests past Temporal's retention, replayed from the archive
    seconds: float = 0.0

    @property
    def requests_with_differences(self) -> int:
        return len({d.request_id for d in self.differences})

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "clocks": self.clocks,
            "outcomes": self.outcomes,
            "written": self.written,
            "unchanged": self.unchanged,
            "requests_with_differences": self.requests_with_differences,
            "differences": [d.line() for d in self.differences],
            "unreadable": self.unreadable,
            "archived": self.archived,
            "seconds": round(self.seconds, 3),
        }


# -- the workflows' side -------------------------------------------------------------------------------
async def request_workflow_ids(client: Client) -> list[str]:
    """Every request workflow Temporal still knows, once each (a request that continued as new lists a
    closed run per continuation; its id's newest run holds the state)."""
    ids: dict[str, None] = {}
    async for execution in client.list_workflows(REQUEST_WORKFLOWS):
        ids.setdefault(execution.id, None)
    return list(ids)


async def projection_of(client: Client, workflow_id: str) -> ProjectionState:
    return await client.get_workflow_handle(workflow_id).query(ServiceRequestWorkflow.get_projection)


def _workflow_facts(view: Any) -> dict[str, str]:
    facts = {"status": str(view.status), "revision": str(view.revision), "events": str(len(view.events))}
    for clock in view.clocks:
        name = f"clock {clock.clock_id}#{clock.instance}"
        facts[f"{name} state"] = str(clock.state)
        facts[f"{name} due_at"] = _instant(clock.due_at)
        facts[f"{name} outcome"] = str(clock.outcome) if clock.outcome is not None else "none"
        # The rows reports and /metrics count: one outcome row per closed clock, one per fired warning.
        facts[f"{name} outcome row"] = facts[f"{name} outcome"]
        fired = [(clock.cycle, t.fraction, t.at) for t in clock.thresholds if t.fired and t.at is not None]
        facts[f"{name} warnings"] = _warnings(fired)
    return facts


def _warnings(fired: list[tuple[int, float, Any]]) -> str:
    listed = [f"cycle {cycle} at {fraction:g}: {_instant(at)}" for cycle, fraction, at in sorted(fired)]
    return ", ".join(listed) or "none"


def _instant(value: Any) -> str:
    """In UTC: the workflow keeps the offset it computed (+08:00), the database gives UTC back."""
    return value.astimezone(UTC).isoformat() if value is not None else "none"


# -- the read model's side -----------------------------------------------------------------------------
def stored_facts(engine: Engine, request_id: str) -> dict[str, str] | None:
    """What verification compares, as the read model holds it; None when the request has no row."""
    with engine.connect() as connection:
        row = connection.execute(
            select(REQUESTS.c.status, REQUESTS.c.revision).where(REQUESTS.c.id == request_id)
        ).first()
        if row is None:
            return None
        events = connection.execute(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.request_id == request_id)
        ).scalar_one()
        facts = {"status": str(row.status), "revision": str(row.revision), "events": str(events)}
        clocks = connection.execute(
            select(CLOCKS.c.clock_id, CLOCKS.c.instance, CLOCKS.c.state, CLOCKS.c.due_at, CLOCKS.c.outcome).where(
                CLOCKS.c.request_id == request_id
            )
        )
        for clock in clocks:
            name = f"clock {clock.clock_id}#{clock.instance}"
            facts[f"{name} state"] = str(clock.state)
            facts[f"{name} due_at"] = _instant(clock.due_at)
            facts[f"{name} outcome"] = str(clock.outcome) if clock.outcome is not None else "none"
        facts |= _counted_rows(connection, request_id, {name.rsplit(" ", 1)[0] for name in facts if " " in name})
    return facts


def _counted_rows(connection: Connection, request_id: str, clocks: set[str]) -> dict[str, str]:
    """The request's outcome and warning rows, per clock instance ("clock <id>#<n>") of its clock rows
    and of its rows that lost theirs."""
    o, w = OUTCOMES.c, WARNINGS.c
    outcomes = {
        f"clock {r.clock_id}#{r.instance}": str(r.outcome)
        for r in connection.execute(select(o.clock_id, o.instance, o.outcome).where(o.request_id == request_id))
    }
    fired: dict[str, list[tuple[int, float, Any]]] = {}
    query = select(w.clock_id, w.instance, w.cycle, w.fraction, w.fired_at).where(w.request_id == request_id)
    for r in connection.execute(query):
        fired.setdefault(f"clock {r.clock_id}#{r.instance}", []).append((r.cycle, r.fraction, r.fired_at))
    facts = {}
    for name in clocks | outcomes.keys() | fired.keys():
        facts[f"{name} outcome row"] = outcomes.get(name, "none")
        facts[f"{name} warnings"] = _warnings(fired.get(name, []))
    return facts


def differences_between(request_id: str, stored: dict[str, str] | None, view: Any) -> list[Difference]:
    if stored is None:
        return [Difference(request_id, "request", "missing", f"revision {view.revision}")]
    wanted = _workflow_facts(view)
    return [
        Difference(request_id, name, stored.get(name, "missing"), wanted.get(name, "missing"))
        for name in sorted(stored.keys() | wanted.keys())
        if stored.get(name) != wanted.get(name)
    ]


def stored_position(engine: Engine, request_id: str) -> WritePosition | None:
    """The position of the read model's last write of the request; None when it has no row."""
    r = REQUESTS.c
    with engine.connect() as connection:
        row = connection.execute(
            select(r.written_history_length, r.revision, r.written_attempt_ns, r.written_run).where(r.id == request_id)
        ).first()
    return WritePosition(row[0], row[1], row[2], row[3]) if row is not None else None


def _demote(engine: Engine, request_id: str, position: WritePosition) -> None:
    """Put a row that differs from its workflow at the oldest position, only while it still holds
    `position` (the workflow's, or an abandoned attempt's ahead of it): the next write (this
    rebuild's, or the workflow's own) rewrites it, and a write newer than `position` is never undone."""
    r = REQUESTS.c
    with write_transaction(engine) as connection:
        connection.execute(
            update(REQUESTS)
            .where(
                r.id == request_id,
                r.written_run == position.run,
                r.written_history_length == position.history_length,
                r.revision == position.revision,
                r.written_attempt_ns == position.attempt_ns,
            )
            .values(written_run=0, written_history_length=0, written_attempt_ns=0)
        )


def rewrite(writer: ProjectionWriter, state: ProjectionState, calendar: WorkingCalendar) -> bool:
    """Write the workflow's last projected state at its own position; False when that changed nothing.
    Advisories are not workflow state: they are a pure function of the pinned entry, the events and
    the calendar (sla/engine/rules.py), recomputed here as the workflow's planning does."""
    assert state.written is not None
    entry = parse_pinned(state.catalog_document, "pinned catalog entry")
    view = replace(state.view, advisories=advisories(entry, state.view.events, calendar))
    return writer.write(
        Change(
            before=view,
            after=view,
            position=state.written,
            committed=None,  # the stored rows are not trusted: rewrite them whole when written
            catalog_version=state.catalog_version,
            personal=state.personal,
            catalog_document=state.catalog_document,
        )
    )


# -- one pass over every request -------------------------------------------------------------------------
Read = Callable[[], Awaitable[ProjectionState | None]]
# Before a row ahead of its workflow is taken for an abandoned attempt's: a write whose workflow task
# is completing reaches the workflow's reported position well within it.
ABANDONED_PAUSE = 1.0


async def _demotable(engine: Engine, read: Read, state: ProjectionState) -> WritePosition | None:
    """The stored position to demote a differing row from: the workflow's own, or one ahead of it
    that the workflow still has not reached after a pause (an abandoned attempt's); None otherwise."""
    assert state.written is not None
    stored = await asyncio.to_thread(stored_position, engine, state.view.request_id)
    if stored is None or stored.key() < state.written.key():
        return None  # missing, or older: the rewrite at the workflow's position goes through
    if stored.key() == state.written.key():
        return stored
    await asyncio.sleep(ABANDONED_PAUSE)
    again = await read()
    if again is None or again.written is None or again.written.key() != state.written.key():
        return None  # the workflow moved: its own write reaches the row (verify says if not)
    return stored


async def _repair(
    engine: Engine, writer: ProjectionWriter, read: Read, state: ProjectionState, calendar: WorkingCalendar
) -> bool:
    """Rewrite a request whose rows differ from its workflow; False when that changed nothing."""
    demote_from = await _demotable(engine, read, state)
    if demote_from is not None:
        await asyncio.to_thread(_demote, engine, state.view.request_id, demote_from)
    return await asyncio.to_thread(rewrite, writer, state, calendar)


Settled = tuple[ProjectionState, list[Difference]]


async def _settled_differences(engine: Engine, read: Read, state: ProjectionState) -> Settled:
    """The differences, read twice: a write in flight between the query and the read is not one. A
    missing row is not read again: the workflow reports a write only after it was committed."""
    request_id = state.view.request_id
    stored = await asyncio.to_thread(stored_facts, engine, request_id)
    found = differences_between(request_id, stored, state.view)
    if found and stored is not None:
        state = await read() or state
        found = differences_between(request_id, await asyncio.to_thread(stored_facts, engine, request_id), state.view)
    return state, found


async def _patient_query(client: Client, workflow_id: str) -> ProjectionState:
    """A query can time out on a busy worker (a closed workflow's query replays its history first):
    ask again before calling the workflow unreadable. A workflow Temporal no longer has is final."""
    for pause in QUERY_RETRY_PAUSES:
        try:
            return await projection_of(client, workflow_id)
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(pause)
    return await projection_of(client, workflow_id)


def _live_reader(client: Client, workflow_id: str, summary: Summary, archived_history: str | None) -> Read:
    async def read() -> ProjectionState | None:
        try:
            state = await _patient_query(client, workflow_id)
        except RPCError as error:
            if archived_history is not None:  # closed, and gone since it was listed (retention): the archive
                summary.archived += 1
                return await _archive_reader(client, workflow_id, archived_history, summary)()
            summary.unreadable.append(f"{workflow_id}: {error.message}")
            return None
        return state if state.written is not None else None  # nothing projected yet: its first write is pending

    return read


def _archive_reader(client: Client, workflow_id: str, history_json: str, summary: Summary) -> Read:
    async def read() -> ProjectionState | None:
        state = await archived_projection(workflow_id, history_json, client.data_converter)
        if state is None:
            summary.unreadable.append(f"{workflow_id}: the archived history does not replay with this code")
        return state if state is not None and state.written is not None else None

    return read


async def pass_over_requests(
    client: Client,
    engine: Engine,
    *,
    writer: ProjectionWriter | None,
    calendar: Callable[[], WorkingCalendar] | None = None,
    progress: Progress | None = None,
    listed: list[str] | None = None,
) -> Summary:
    """Verify every request (writer None), or rebuild it (a writer and the current calendar): the ones
    Temporal lists (or `listed`), and the archived ones it no longer holds (past retention), replayed."""
    started = time.perf_counter()
    summary = Summary()
    listed = await request_workflow_ids(client) if listed is None else listed
    archived = await asyncio.to_thread(closing_runs, engine)
    readers = [_live_reader(client, w, summary, archived[w][1] if w in archived else None) for w in listed]
    past_retention = sorted(archived.keys() - set(listed))
    readers += [_archive_reader(client, w, archived[w][1], summary) for w in past_retention]
    summary.archived += len(past_retention)
    gate = asyncio.Semaphore(CONCURRENT_QUERIES)
    done = 0

    async def one(read: Read) -> None:
        nonlocal done
        async with gate:
            state = await read()
            if state is not None:
                state, found = await _settled_differences(engine, read, state)
                summary.requests += 1
                summary.clocks += len(state.view.clocks)
                summary.outcomes += sum(1 for c in state.view.clocks if c.outcome is not None)
                summary.differences += found
                # A row that agrees is at the workflow's position: writing it would be the guard's no-op.
                if writer is not None and calendar is not None and found:
                    written = await _repair(engine, writer, read, state, calendar())
                    summary.written += written
                    summary.unchanged += not written
                elif writer is not None:
                    summary.unchanged += 1
            done += 1
            if progress is not None:
                progress(done, len(readers))

    await asyncio.gather(*(one(read) for read in readers))
    summary.differences.sort(key=lambda d: (d.request_id, d.field))
    summary.seconds = time.perf_counter() - started
    return summary


def _restore_tables(engine: Engine) -> None:
    """Dropped read-model tables come back empty (the migrations' head may already be recorded)."""
    init_schema(engine)
    SQLModel.metadata.create_all(engine, tables=[REQUESTS, *CHILD_TABLES, *TALLY_TABLES])


async def rebuild(
    client: Client,
    engine: Engine,
    codec: EncryptionCodec,
    calendars: CalendarSource,
    progress: Progress | None = None,
    listed: list[str] | None = None,
) -> Summary:
    """Re-project every request Temporal knows into `engine` (empty or not); safe to run again.
    `listed`: the workflow ids to take from Temporal instead of all it lists (the others from the archive)."""
    await asyncio.to_thread(_restore_tables, engine)
    writer = ProjectionWriter(engine, codec)
    return await pass_over_requests(
        client, engine, writer=writer, calendar=calendars.current, progress=progress, listed=listed
    )


async def verify(
    client: Client, engine: Engine, progress: Progress | None = None, listed: list[str] | None = None
) -> Summary:
    """Compare every request Temporal knows with the read model; writes nothing."""
    return await pass_over_requests(client, engine, writer=None, progress=progress, listed=listed)
