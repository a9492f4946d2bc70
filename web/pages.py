"""The pages: routes that read through the API's read side (api/reads.py, api/audit_pack.py) and
render; no figure is computed here that the API does not compute the same way."""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import StringConstraints, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api import commands
from api.access import Action, may
from api.audit_pack import audit_pack, audit_page_pack
from api.deps import StateDep
from api.instants import BusinessInstant
from api.problems import Problem
from api.reads import ListFilter, by_next_due, next_due, owed_page, owes, request_page
from api.schemas import CorrectionDecision, Identifier, RequestPage, ServiceId
from api.sessions import csrf_matches
from sla.engine.reading import Phase
from sla.events import RequestStatus
from store.sessions import WebSession
from web.audit_page import page_context
from web.render import render
from web.session import HOME, PagePrincipal, form_fields
from workflows.ids import request_workflow_id

router = APIRouter(include_in_schema=False)


TITLES = {
    401: ("未登录", "Not signed in"),
    403: ("无权访问", "Forbidden"),
    404: ("未找到", "Not found"),
    409: ("冲突", "Conflict"),
    422: ("无效请求", "Invalid"),
    503: ("暂不可用", "Unavailable"),
}


async def problem_page(request: Request, session: WebSession | None, problem: Problem) -> Response:
    """A refusal of the read side as a page: a request outside one's scope is this 404, like the API's."""
    title_zh, title_en = TITLES.get(problem.status, ("出错", problem.title))
    context = {"session": session, "status": problem.status, "title_zh": title_zh, "title_en": title_en}
    return await render(request, "error.html", context | {"detail": problem.detail}, status=problem.status)


@router.get("/")
def home() -> Response:
    return RedirectResponse(HOME, status_code=303)


LIST_FIELDS: dict[str, TypeAdapter[Any]] = {
    "vendor": TypeAdapter(Identifier),
    "service": TypeAdapter(ServiceId),
    "insurer": TypeAdapter(Identifier),
    "state": TypeAdapter(RequestStatus),
    "clock_state": TypeAdapter(Phase),
    "opened_from": TypeAdapter(BusinessInstant),
    "opened_to": TypeAdapter(BusinessInstant),
    "cursor": TypeAdapter(Annotated[str, StringConstraints(max_length=512)]),
}


def list_filter(query: dict[str, str]) -> tuple[ListFilter, list[str]]:
    """The list's filters from the form, checked as the API checks them (GET /v1/requests); a value
    that does not pass is named and left out."""
    values: dict[str, Any] = {}
    wrong = []
    for name, adapter in LIST_FIELDS.items():
        text = (query.get(name) or "").strip()
        if not text:
            continue
        try:
            values[name] = adapter.validate_python(text)
        except ValidationError:
            wrong.append(name)
    wanted = ListFilter(
        values.get("vendor"),
        values.get("service"),
        values.get("insurer"),
        values.get("state"),
        values.get("clock_state"),
        values.get("opened_from"),
        values.get("opened_to"),
        values.get("cursor"),
        limit=100,
    )
    return wanted, wrong


@router.get("/requests")
async def requests_list(request: Request, session: PagePrincipal, state: StateDep) -> Response:
    """The list a coordinator opens in the morning: what is owed, by the next due instant
    (api/reads.py owed_page); with ?order=opened, or a filter nothing owed can match, the API's list
    (newest first, request_page) sorted by next due within the page."""
    query = dict(request.query_params)
    wanted, wrong = list_filter(query)
    by_due = owes(wanted) and query.get("order") != "opened"

    def load() -> RequestPage:
        with state.engine.connect() as connection:
            read = owed_page if by_due else request_page
            return read(connection, session.principal, wanted, state.now())

    try:
        page = await run_in_threadpool(load)
    except Problem as problem:
        return await problem_page(request, session, problem)
    message = f"已忽略无效的筛选条件 Ignored invalid filters: {', '.join(wrong)}" if wrong else ""
    following = {k: v for k, v in query.items() if k != "cursor" and v} | {"cursor": page.next_cursor or ""}
    other_order = {k: v for k, v in query.items() if k not in ("cursor", "order") and v}
    context = {
        "session": session,
        "by_due": by_due,
        "other_order": urllib.parse.urlencode(other_order | ({} if not by_due else {"order": "opened"})),
        "items": page.items if by_due else by_next_due(page.items),
        "next_due": next_due,
        "filters": {name: query.get(name, "") for name in LIST_FIELDS},
        "states": [s.value for s in RequestStatus],
        "clock_states": [p.value for p in Phase],
        "names": {e.id: (e.name_zh, e.name_en) for e in state.catalog},
        "clock_names": {(e.id, c.id): c.name_zh for e in state.catalog for c in e.clocks},
        "message": message,
        "next_cursor": page.next_cursor,
        "next_query": urllib.parse.urlencode(following),
    }
    return await render(request, "requests.html", context, pdf_name="requests")


@router.get("/requests/{request_id}")
async def audit_page(request_id: str, request: Request, session: PagePrincipal, state: StateDep) -> Response:
    """The audit page: the audit pack (api/audit_pack.py) for a person, clocks drawn on the calendar."""
    try:
        pack = await audit_page_pack(state, session.principal, request_id)
    except Problem as problem:
        return await problem_page(request, session, problem)
    workflow = urllib.parse.quote(request_workflow_id(request_id), safe="")
    link = f"{state.settings.temporal_ui_base_url()}/namespaces/{state.temporal.namespace}/workflows/{workflow}"
    calendar = await run_in_threadpool(state.calendars.current)
    context = {"session": session, "now": state.now(), "may_decide": may(session.principal, Action.DECIDE_CORRECTION)}
    context |= page_context(pack, calendar, state.now(), link)
    return await render(request, "request.html", context, pdf_name=f"request-{pack['request']['id']}")


@router.get("/requests/{request_id}/audit.json")
async def request_audit_pack(request_id: str, request: Request, session: PagePrincipal, state: StateDep) -> Response:
    """The audit pack as the API gives it (GET /v1/requests/{id}/audit), for a signed-in browser."""
    try:
        pack = await audit_pack(state, session.principal, request_id)
    except Problem as problem:
        return await problem_page(request, session, problem)
    name = f"audit-{pack['request']['id']}.json"
    return JSONResponse(
        pack, headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"}
    )


@router.post("/requests/{request_id}/corrections/{correction_id}/{decision}")
async def decide_correction(
    request_id: str, correction_id: str, decision: str, request: Request, session: PagePrincipal, state: StateDep
) -> Response:
    """The page's accept / reject buttons: the same write as the API's, then back to the audit page,
    where the decision shows with who took it and when."""
    fields = await form_fields(request)
    if not csrf_matches(session, fields.get("csrf", "")):
        return Response("CSRF token missing or wrong", status_code=403, media_type="text/plain")
    try:
        if decision not in ("accept", "reject"):
            raise Problem(404, "Not Found", f"no decision {decision[:40]!r}: accept or reject")
        note = CorrectionDecision(note=fields.get("note", "")[:2000])
        ids = (
            TypeAdapter(Identifier).validate_python(request_id),
            TypeAdapter(Identifier).validate_python(correction_id),
        )
        await commands.decide_correction(state, session.principal, ids[0], ids[1], decision == "accept", note)
    except ValidationError:
        return await problem_page(request, session, Problem(404, "Not Found", "no such correction"))
    except Problem as problem:
        return await problem_page(request, session, problem)
    return RedirectResponse(f"/requests/{urllib.parse.quote(ids[0], safe='')}#corrections", status_code=303)
