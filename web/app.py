"""Mount the pages on the API's app: the same process, the same AppState, the same read side."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import pages, report_pages, session
from web.render import STATIC


def mount(app: FastAPI) -> None:
    app.include_router(session.router)
    app.include_router(pages.router)
    app.include_router(report_pages.router)  # scorecards and terms (i23-reports)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(session.SignInRequired, session.sign_in_redirect)  # type: ignore[arg-type]
