"""The pages: routes that read through the API's read side (api/reads.py, api/audit_pack.py) and
render; no figure is computed here that the API does not compute the same way."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep
from api.problems import Problem
from api.reads import request_view
from store.sessions import WebSession
from web.render import render
from web.session import HOME, PagePrincipal

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


@router.get("/requests/{request_id}")
async def request_page(request_id: str, request: Request, session: PagePrincipal, state: StateDep) -> Response:
    def load() -> Any:
        with state.engine.connect() as connection:
            return request_view(connection, session.principal, request_id, state.calendars.current(), state.now())

    try:
        view = await run_in_threadpool(load)
    except Problem as problem:
        return await problem_page(request, session, problem)
    context = {"session": session, "view": view}
    return await render(request, "request.html", context, pdf_name=f"request-{view.id}")
