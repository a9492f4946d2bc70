"""The API's read side: one request, a page of requests, from the read model with Core queries.

Lists are newest first and every filter is served by an index in that order, so a page costs about
the same at 1,000 requests as at 100,000 (bench/readmodel.py). A clock-state filter reads the phase
the workflow recorded, corrected at the instant of the query by the few clocks whose warning or due
instant has passed but is not recorded yet (sla.engine.reading.phase_at; the clauses are api/readings.py's).
"""

from __future__ import annotations

import base64
import heapq
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Connection, Row, TextClause, select, text, tuple_

from api.access import narrow
from api.problems import Problem, not_found
from api.readings import Clause, Stream, instant, labelled, owed_reading, reading_as, within
from api.schemas import AdvisoryOut, CorrectionReviewOut, EventOut, RequestOut, RequestPage, RequestSummary
from api.views import clocks_out, request_out, summary, visible
from sla.calendar.working import WorkingCalendar
from sla.catalog.model import ServiceEntry
from sla.engine.model import ClockState, ClockView, RecordedEvent
from sla.engine.reading import Phase, at_risk_from
from sla.engine.review import CorrectionReview
from sla.engine.rules import advisories
from sla.event_data import instant_in_range
from sla.events import CLOSING_EVENTS
from store.keys import Principal
from store.models import (
    OWED_PREDICATE,
    ClockRow,
    CorrectionReviewRow,
    EventRow,
    RequestRow,
    table_of,
)
from workflows.messages import RequestView

REQUESTS, CLOCKS, EVENTS = table_of(RequestRow), table_of(ClockRow), table_of(EventRow)
REVIEWS = table_of(CorrectionReviewRow)
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # what GET /v1/requests/{id} takes


def load_request(connection: Connection, principal: Principal, request_id: str) -> Row[Any]:
    """The request row, or 404 when it does not exist or this key may not see it (same answer)."""
    row = connection.execute(select(REQUESTS).where(REQUESTS.c.id == request_id)).first()
    if row is None or not visible(principal, row):
        raise not_found(f"request {request_id}")
    return row


def request_view(
    connection: Connection, principal: Principal, request_id: str, calendar: WorkingCalendar, now: datetime
) -> Any:
    row = load_request(connection, principal, request_id)
    clocks = connection.execute(select(CLOCKS).where(CLOCKS.c.request_id == request_id)).all()
    events = connection.execute(select(EVENTS).where(EVENTS.c.request_id == request_id).order_by(EVENTS.c.seq)).all()
    reviews = connection.execute(
        select(REVIEWS).where(REVIEWS.c.request_id == request_id).order_by(REVIEWS.c.event_seq)
    ).all()
    return request_out(row, clocks, events, calendar, now, reviews)


# -- a write's answer ------------------------------------------------------------------------------
# A clock as the dict its row's `view` holds; pydantic-core copies it ~3x faster than dataclasses.asdict.
_CLOCK = TypeAdapter(ClockView)


@dataclass(frozen=True)
class _ClockAsStored:
    """A clock as its read-model row holds it, made from the workflow's ClockView."""

    clock_id: str
    instance: int
    state: ClockState
    due_at: datetime | None
    at_risk_from: datetime | None
    view: dict[str, Any]


def _review_out(review: CorrectionReview) -> CorrectionReviewOut:
    event = review.event
    return CorrectionReviewOut(
        correction_id=review.correction_id,
        event_seq=event.seq,
        event_type=event.type.value,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        sender=event.sender,
        rule=review.rule,
        reason=review.reason,
        changes=[asdict(c) for c in review.changes],
        held_at=review.held_at,
        status=review.status.value,
        decided_by=review.decided_by,
        decided_at=review.decided_at,
        note=review.note,
    )


def answer_view(view: RequestView, entry: ServiceEntry, calendar: WorkingCalendar, now: datetime) -> RequestOut:
    """What GET /v1/requests/{id} answers once the read model holds `view` (the workflow's, after a
    write), built from the view itself: the rows the projection writes, as request_out reads them."""
    closing = [e for e in view.events if e.type in CLOSING_EVENTS]
    return RequestOut(
        id=view.request_id,
        service_id=view.service_id,
        insurer_id=view.insurer_id,
        vendor_id=view.vendor_id,
        status=view.status,
        opened_at=view.opened_at,
        closed_at=closing[0].occurred_at if closing else None,
        closed_received_at=closing[0].received_at if closing else None,
        external_ref=view.external_ref,
        revision=view.revision,
        calendar_fingerprint=view.calendar_fingerprint,
        clocks=clocks_out(
            (
                _ClockAsStored(c.clock_id, c.instance, c.state, c.due_at, at_risk_from(c), _CLOCK.dump_python(c))
                for c in view.clocks
            ),
            entry,
            calendar,
            now,
        ),
        # Not workflow state: worked out from the entry, the events and the calendar, as the write did.
        advisories=[AdvisoryOut(**asdict(a)) for a in advisories(entry, view.events, calendar)],
        events=[
            EventOut(**{k: getattr(e, k) for k in EventOut.model_fields} | _received(e))
            for e in sorted(view.events, key=lambda e: e.seq)
        ],
        correction_reviews=[_review_out(r) for r in sorted(view.reviews, key=lambda r: r.event.seq)],
    )


def _received(event: RecordedEvent) -> dict[str, datetime]:
    """The projection stores an event recorded before received_at existed as received when it occurred."""
    return {"received_at": event.received_at or event.occurred_at}


# -- lists -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListFilter:
    vendor: str | None = None
    service: str | None = None
    insurer: str | None = None
    status: str | None = None
    clock_state: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    cursor: str | None = None
    limit: int = 50


def encode_cursor(opened_at: datetime, request_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([opened_at.isoformat(), request_id]).encode()).decode()


def decode_cursor(
    cursor: str, key: re.Pattern[str] = _REQUEST_ID, rule: str = "cursor.invalid"
) -> tuple[datetime, str]:
    """An (instant, id) cursor this API returned; 422 naming `rule` for anything else. `key` is what
    the id must match: a request id for lists, a message id for the delivery log."""
    try:
        at_text, key_text = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(at_text)
        # Ours are aware, inside the business range (year 1 would overflow on its way to the database) and
        # name an id of ours (an odd string, say a lone surrogate, would fail the database driver).
        if not instant_in_range(at) or not isinstance(key_text, str) or not key.fullmatch(key_text):
            raise ValueError("not a cursor of ours")
        return at, key_text
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Problem(422, "Unprocessable Content", "cursor is not one this API returned", rule=rule) from None


def _scoped(principal: Principal, wanted: ListFilter) -> ListFilter | None:
    """The filter within the key's scope; None when it asks for another vendor's or insurer's rows."""
    reach = narrow(principal, vendor=wanted.vendor, insurer=wanted.insurer)
    if reach.outside:
        return None
    return ListFilter(
        reach.vendor,
        wanted.service,
        reach.insurer,
        wanted.status,
        wanted.clock_state,
        wanted.opened_from,
        wanted.opened_to,
        wanted.cursor,
        wanted.limit,
    )


def _common(table: Any, wanted: ListFilter, id_column: Any) -> list[Clause]:
    conditions: list[Clause] = [*labelled(table, wanted.insurer, wanted.vendor, wanted.service)]
    conditions += within(table.c.opened_at, wanted.opened_from, wanted.opened_to, ("opened_from", "opened_to"))
    if wanted.cursor:
        at, last_id = decode_cursor(wanted.cursor)
        conditions.append(tuple_(table.c.opened_at, id_column) < tuple_(instant("cursor_at", at), last_id))
    return conditions


def _ordered(
    connection: Connection, wanted: ListFilter, stream: Stream, fetch: int
) -> tuple[list[tuple[datetime, str]], tuple[datetime, str] | None]:
    """The rows `keep` accepts among the newest `fetch`, and the last row fetched when `fetch` cut it."""
    c = CLOCKS.c
    query = select(c.opened_at, c.request_id, c.due_at).where(
        *stream.conditions, *_common(CLOCKS, wanted, c.request_id)
    )
    if wanted.status is not None:
        query = query.join(REQUESTS, REQUESTS.c.id == c.request_id).where(REQUESTS.c.status == wanted.status)
    rows = connection.execute(query.order_by(c.opened_at.desc(), c.request_id.desc()).limit(fetch)).all()
    cut = (rows[-1].opened_at, rows[-1].request_id) if len(rows) == fetch else None
    return [(r.opened_at, r.request_id) for r in rows if stream.keep(r)], cut


def _lagging(connection: Connection, wanted: ListFilter, stream: Stream) -> list[tuple[datetime, str]]:
    """The clocks past an instant the workflow has not recorded yet, newest request first. Selected on
    the partial index's predicate and the instant alone (any other condition can lead a planner to a
    wider index, since it cannot know the set is small), then filtered here: the set is a herd's lag."""
    c, r = CLOCKS.c, REQUESTS.c
    rows = connection.execute(
        select(c.opened_at, c.request_id, c.vendor_id, c.insurer_id, c.service_id).where(*stream.conditions)
    ).all()
    cursor = decode_cursor(wanted.cursor) if wanted.cursor else None
    scope = (("vendor_id", wanted.vendor), ("insurer_id", wanted.insurer), ("service_id", wanted.service))
    kept = [
        row
        for row in rows
        if all(value is None or row._mapping[column] == value for column, value in scope)
        and (wanted.opened_from is None or row.opened_at >= wanted.opened_from)
        and (wanted.opened_to is None or row.opened_at < wanted.opened_to)
        and (cursor is None or (row.opened_at, row.request_id) < cursor)
    ]
    if wanted.status is not None and kept:
        ids = {row.request_id for row in kept}
        query = select(r.id).where(r.id.in_(ids), r.status == wanted.status)
        with_status = set(connection.execute(query).scalars())
        kept = [row for row in kept if row.request_id in with_status]
    return sorted(((row.opened_at, row.request_id) for row in kept), reverse=True)


def _page_ids_by_clock(connection: Connection, wanted: ListFilter, now: datetime) -> list[tuple[datetime, str]]:
    """The first limit + 1 distinct requests, newest first, with a clock in the wanted state."""
    assert wanted.clock_state is not None
    streams = reading_as(Phase(wanted.clock_state), now)
    fetch = wanted.limit + 1
    # The lagging streams are read whole, so a wider fetch of the ordered ones never needs them again.
    lagging = {i: _lagging(connection, wanted, s) for i, s in enumerate(streams) if not s.ordered}
    while True:
        found, cuts = [], []
        for i, stream in enumerate(streams):
            if stream.ordered:
                rows, cut = _ordered(connection, wanted, stream, fetch)
                found.append(rows)
                if cut is not None:
                    cuts.append(cut)
            else:
                found.append(lagging[i])
        # A stream cut at `fetch` rows says nothing about what lies past its last row: the merged order
        # holds only down to the newest of those last rows.
        boundary = max(cuts) if cuts else None
        page: list[tuple[datetime, str]] = []
        seen: set[str] = set()
        for entry in heapq.merge(*found, reverse=True):
            if boundary is not None and entry < boundary:
                break
            if entry[1] not in seen:
                seen.add(entry[1])
                page.append(entry)
        if len(page) > wanted.limit or boundary is None:
            return page[: wanted.limit + 1]
        fetch *= 2


def request_page(connection: Connection, principal: Principal, wanted: ListFilter, now: datetime) -> RequestPage:
    scoped = _scoped(principal, wanted)
    if scoped is None:
        return RequestPage(items=[], next_cursor=None)
    if scoped.clock_state is None:
        r = REQUESTS.c
        query = select(r.id, r.opened_at).where(*_common(REQUESTS, scoped, r.id))
        if scoped.status is not None:
            query = query.where(r.status == scoped.status)
        rows = connection.execute(query.order_by(r.opened_at.desc(), r.id.desc()).limit(scoped.limit + 1)).all()
        ids = [(row.opened_at, row.id) for row in rows]
    else:
        ids = _page_ids_by_clock(connection, scoped, now)
    return _page_of(connection, ids[: scoped.limit], len(ids) > scoped.limit, now)


def _page_of(connection: Connection, page: list[tuple[datetime, str]], more: bool, now: datetime) -> RequestPage:
    """The summaries of the requests a page holds, in its order, and the cursor after its last one."""
    wanted_ids = [request_id for _, request_id in page]
    requests = {r.id: r for r in connection.execute(select(REQUESTS).where(REQUESTS.c.id.in_(wanted_ids)))}
    clocks: dict[str, list[Row[Any]]] = {}
    for clock in connection.execute(select(CLOCKS).where(CLOCKS.c.request_id.in_(wanted_ids))):
        clocks.setdefault(clock.request_id, []).append(clock)
    return RequestPage(
        items=[summary(requests[i], clocks.get(i, []), now) for i in wanted_ids if i in requests],
        next_cursor=encode_cursor(*page[-1]) if more else None,
    )


def next_due(item: RequestSummary) -> datetime | None:
    """The earliest due instant among the clocks of an open request that are running (at risk included)
    or breached: what a coordinator must act on first."""
    if item.status != "open":
        return None
    clocks: list[Any] = list(item.clocks)  # ClockSummary, derived from the domain (api/derived.py)
    owed = [c.due_at for c in clocks if c.due_at is not None and c.state in ("running", "breached")]
    return min(owed) if owed else None


def by_next_due(items: list[RequestSummary]) -> list[RequestSummary]:
    """Requests with something owed first, soonest (or longest overdue) first; then the rest as listed."""
    owed = sorted((i for i in items if next_due(i) is not None), key=lambda i: (next_due(i), i.id))
    return owed + [i for i in items if next_due(i) is None]


# -- what is owed, soonest first (the pages' list) -------------------------------------------------
OWED_PHASES = (Phase.RUNNING, Phase.AT_RISK, Phase.BREACHED)


def owes(wanted: ListFilter) -> bool:
    """Whether a filter asks only for what can be owed: open requests, clocks running or breached."""
    return wanted.status in (None, "open") and wanted.clock_state in (None, *OWED_PHASES, Phase.AT_RISK)


def _owed_ids(connection: Connection, scoped: ListFilter, now: datetime) -> tuple[list[tuple[datetime, str]], bool]:
    """The next `limit` open requests with an owed clock, by (next due instant, id) after the cursor, and
    whether more follow. Walks the owed clocks in due order (ix_clock_owed_due, selected on its
    predicate as written) and keeps each request at its first, i.e. earliest, clock; a request seen
    first after the cursor but owing an earlier clock was shown on an earlier page and is skipped."""
    c = CLOCKS.c
    conditions: list[ColumnElement[bool] | TextClause] = [
        text(OWED_PREDICATE),
        c.due_at.is_not(None),
        *_common(CLOCKS, replace(scoped, cursor=None), c.request_id),
    ]
    state = owed_reading(scoped.clock_state, now)
    if state is not None:
        conditions.append(state)
    after = decode_cursor(scoped.cursor) if scoped.cursor else None
    if after is not None:
        conditions.append(tuple_(c.due_at, c.request_id) > tuple_(instant("cursor_at", after[0]), after[1]))
    fetch = 2 * (scoped.limit + 1)  # a request often owes two clocks
    while True:
        query = select(c.request_id, c.due_at).where(*conditions).order_by(c.due_at, c.request_id).limit(fetch)
        rows = connection.execute(query).all()
        first: dict[str, datetime] = {}
        for row in rows:
            first.setdefault(row.request_id, row.due_at)
        if after is not None and first:  # drop requests whose next due lies at or before the cursor
            earlier = select(c.request_id).where(
                text(OWED_PREDICATE),
                c.request_id.in_(list(first)),
                c.due_at.is_not(None),
                *([state] if state is not None else []),
                tuple_(c.due_at, c.request_id) <= tuple_(instant("cursor_at", after[0]), after[1]),
            )
            for request_id in connection.execute(earlier).scalars():
                first.pop(request_id, None)
        if first:  # open requests only (a clock is owed on an open request, but say so)
            open_ids = select(REQUESTS.c.id).where(REQUESTS.c.id.in_(list(first)), REQUESTS.c.status == "open")
            still_open = set(connection.execute(open_ids).scalars())
            first = {request_id: due for request_id, due in first.items() if request_id in still_open}
        ordered = sorted(((due, request_id) for request_id, due in first.items()))
        exhausted = len(rows) < fetch
        if len(ordered) > scoped.limit or exhausted:
            return ordered[: scoped.limit], len(ordered) > scoped.limit
        fetch *= 2


def owed_page(connection: Connection, principal: Principal, wanted: ListFilter, now: datetime) -> RequestPage:
    """The open requests with a clock owed (running, at risk, or breached and not stopped), by their
    next due instant, soonest (longest overdue) first; the cursor is that instant and the id."""
    scoped = _scoped(principal, wanted)
    if scoped is None:
        return RequestPage(items=[], next_cursor=None)
    page, more = _owed_ids(connection, scoped, now)
    return _page_of(connection, page, more, now)
