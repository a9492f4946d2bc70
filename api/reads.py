"""The API's read side: one request, a page of requests, from the read model with Core queries.

Lists are newest first and every filter is served by an index in that order, so a page costs about
the same at 1,000 requests as at 100,000 (bench/readmodel.py). A clock-state filter reads the phase
the workflow recorded, corrected at the instant of the query by the few clocks whose warning or due
instant has passed but is not recorded yet (sla.engine.reading.phase_at).
"""

from __future__ import annotations

import base64
import heapq
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, bindparam, select, tuple_

from api.problems import Problem, not_found
from api.schemas import RequestPage
from api.views import request_out, summary, visible
from sla.calendar.working import WorkingCalendar
from sla.engine.reading import Phase
from sla.event_data import instant_in_range
from store.keys import Principal, Role
from store.models import ClockRow, EventRow, RequestRow, table_of
from store.types import AwareDateTime

REQUESTS, CLOCKS, EVENTS = table_of(RequestRow), table_of(ClockRow), table_of(EventRow)
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
    return request_out(row, clocks, events, calendar, now)


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


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        opened, request_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(opened)
        # Ours are aware, inside the business range (year 1 would overflow on its way to the database) and
        # name a request id (an odd string, say a lone surrogate, would fail the database driver).
        if not instant_in_range(at) or not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise ValueError("not a cursor of ours")
        return at, request_id
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Problem(
            422, "Unprocessable Content", "cursor is not one this API returned", rule="cursor.invalid"
        ) from None


def _scoped(principal: Principal, wanted: ListFilter) -> ListFilter | None:
    """The filter within the key's scope; None when it asks for another vendor's or insurer's rows."""
    vendor, insurer = wanted.vendor, wanted.insurer
    if principal.role is Role.COORDINATOR:
        if vendor not in (None, principal.vendor_id):
            return None
        vendor = principal.vendor_id
    if principal.role is Role.AUDITOR:
        if insurer not in (None, principal.insurer_id):
            return None
        insurer = principal.insurer_id
    return ListFilter(
        vendor,
        wanted.service,
        insurer,
        wanted.status,
        wanted.clock_state,
        wanted.opened_from,
        wanted.opened_to,
        wanted.cursor,
        wanted.limit,
    )


def _instant(name: str, value: datetime) -> Any:
    return bindparam(name, value, type_=AwareDateTime())


def _common(table: Any, wanted: ListFilter, id_column: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    for column, value in (("vendor_id", wanted.vendor), ("insurer_id", wanted.insurer), ("service_id", wanted.service)):
        if value is not None:
            conditions.append(table.c[column] == value)
    if wanted.opened_from is not None:
        conditions.append(table.c.opened_at >= _instant("opened_from", wanted.opened_from))
    if wanted.opened_to is not None:
        conditions.append(table.c.opened_at < _instant("opened_to", wanted.opened_to))
    if wanted.cursor:
        at, last_id = decode_cursor(wanted.cursor)
        conditions.append(tuple_(table.c.opened_at, id_column) < tuple_(_instant("cursor_at", at), last_id))
    return conditions


def _clock_streams(wanted: ListFilter, now: datetime) -> list[tuple[list[ColumnElement[bool]], bool]]:
    """(conditions, ordered) per stream: ordered streams walk an index in list order; the others are
    the few clocks whose instant has passed but whose new phase is not recorded yet."""
    c, at = CLOCKS.c, _instant("now", now)
    phase = c.phase
    state = wanted.clock_state
    if state == "breached":
        return [
            ([phase == Phase.BREACHED], True),
            ([phase.in_((Phase.RUNNING, Phase.AT_RISK)), c.due_at < at], False),
        ]
    if state == "at_risk":
        return [
            ([phase == Phase.AT_RISK, c.due_at >= at], True),
            ([phase == Phase.RUNNING, c.at_risk_from <= at, c.due_at >= at], False),
        ]
    if state == "running":  # running includes at risk (a flag on a running clock)
        return [([phase == Phase.RUNNING, c.due_at >= at], True), ([phase == Phase.AT_RISK, c.due_at >= at], True)]
    assert state is not None
    stored: ColumnElement[bool] = phase == Phase(state)
    return [([stored], True)]


def _stream(
    connection: Connection, wanted: ListFilter, conditions: list[ColumnElement[bool]], fetch: int
) -> list[tuple[datetime, str]]:
    c = CLOCKS.c
    query = select(c.opened_at, c.request_id).where(*conditions, *_common(CLOCKS, wanted, c.request_id))
    if wanted.status is not None:
        query = query.join(REQUESTS, REQUESTS.c.id == c.request_id).where(REQUESTS.c.status == wanted.status)
    rows = connection.execute(query.order_by(c.opened_at.desc(), c.request_id.desc()).limit(fetch)).all()
    return [(r.opened_at, r.request_id) for r in rows]


def _page_ids_by_clock(connection: Connection, wanted: ListFilter, now: datetime) -> list[tuple[datetime, str]]:
    """The first limit + 1 distinct requests, newest first, with a clock in the wanted state."""
    fetch = wanted.limit + 1
    while True:
        streams = [_stream(connection, wanted, conds, fetch) for conds, _ in _clock_streams(wanted, now)]
        merged: Iterator[tuple[datetime, str]] = heapq.merge(*streams, key=lambda r: (r[0], r[1]), reverse=True)
        page: list[tuple[datetime, str]] = []
        seen: set[str] = set()
        for opened_at, request_id in merged:
            if request_id not in seen:
                seen.add(request_id)
                page.append((opened_at, request_id))
        # A stream cut at `fetch` rows may hide requests: fetch more when duplicates ate the page.
        if len(page) > wanted.limit or all(len(s) < fetch for s in streams):
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
    page = ids[: scoped.limit]
    wanted_ids = [request_id for _, request_id in page]
    requests = {r.id: r for r in connection.execute(select(REQUESTS).where(REQUESTS.c.id.in_(wanted_ids)))}
    clocks: dict[str, list[Row[Any]]] = {}
    for clock in connection.execute(select(CLOCKS).where(CLOCKS.c.request_id.in_(wanted_ids))):
        clocks.setdefault(clock.request_id, []).append(clock)
    return RequestPage(
        items=[summary(requests[i], clocks.get(i, []), now) for i in wanted_ids if i in requests],
        next_cursor=encode_cursor(*page[-1]) if len(ids) > scoped.limit else None,
    )
