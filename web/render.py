"""Render a page as HTML, or with `?format=pdf` as a PDF of the same content (WeasyPrint, the print
stylesheet, A4), named by what it shows. Templates autoescape: whatever a page shows is text."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from web import timefmt

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["instant"] = timefmt.instant_text
environment.filters["due"] = timefmt.due_text
environment.filters["working_time"] = timefmt.duration_text


def _static_fetcher() -> Any:
    """WeasyPrint's fetcher for a page: its own stylesheets from web/static, nothing from the network
    (a page's content never makes the server fetch a URL)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            marker = "/static/"
            name = url.split(marker, 1)[1] if marker in url else ""
            path = (STATIC / name).resolve()
            if not name or not path.is_relative_to(STATIC.resolve()) or not path.is_file():
                raise ValueError(f"pages fetch only their own static files, not {url[:80]!r}")
            mime = mimetypes.guess_type(path.name)[0] or "text/css"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    return StaticOnly()


def html_of(name: str, context: dict[str, Any]) -> str:
    return environment.get_template(name).render(**context)


async def render(
    request: Request, name: str, context: dict[str, Any], *, pdf_name: str | None = None, status: int = 200
) -> Response:
    """The page `name` with `context`; as `{pdf_name}.pdf` when the query says format=pdf and the page
    has a name for its PDF."""
    as_pdf = pdf_name is not None and request.query_params.get("format") == "pdf"
    page = html_of(name, {"request": request, "as_pdf": as_pdf, **context})
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if not as_pdf:
        headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'"
        )
        return HTMLResponse(page, status_code=status, headers=headers)
    from weasyprint import HTML  # imported on the first PDF: the API process needs it only then

    def write() -> bytes:
        document: bytes = HTML(string=page, base_url=str(request.base_url), url_fetcher=_static_fetcher()).write_pdf()
        return document

    pdf = await run_in_threadpool(write)
    headers["Content-Disposition"] = f'attachment; filename="{pdf_name}.pdf"'
    return Response(pdf, status_code=status, media_type="application/pdf", headers=headers)
