"""The pages insurers settle and sign off with: a vendor's month (`/scorecards/{insurer}/{YYYY-MM}`, the
figures of api/scorecard.py, which are GET /v1/reports/compliance?month=) and the terms enforced
(`/catalog/{service_id}`, every clock and customer window in plain words from sla/catalog/describe.py).
Nothing here computes a figure: it reads, arranges and draws."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep
from api.problems import Problem, not_found
from api.scorecard import Scorecard, scorecard
from api.state import AppState
from sla.catalog.describe import PARTY_WORDS, describe_clock, describe_window
from sla.errors import SlaError
from sla.reports import CalendarMonth
from store.sessions import WebSession
from web.pages import problem_page
from web.render import render
from web.session import PagePrincipal
from web.trend_chart import BASELINE, HEIGHT, LEFT, SLOT, TOP, WIDTH, percent, trend_bars

router = APIRouter(include_in_schema=False)


async def _scorecard(
    request: Request, session: WebSession, state: AppState, insurer: str, month: str, vendor: str | None
) -> Scorecard | Response:
    """The scorecard the session may read, or the 404 page (an unknown insurer or month, or one outside
    the key's scope: the same answer, so a page never tells what exists beyond one's scope)."""
    try:
        wanted = CalendarMonth.parse(month)
    except ValueError:
        return await problem_page(request, session, not_found("scorecard"))
    if insurer not in {entry.insurer for entry in state.catalog}:
        return await problem_page(request, session, not_found("scorecard"))

    def load() -> Scorecard | None:
        with state.engine.connect() as connection:
            return scorecard(connection, session.principal, insurer, wanted, state.now(), vendor)

    card = await run_in_threadpool(load)
    if card is None:
        return await problem_page(request, session, not_found("scorecard"))
    return card


@router.get("/scorecards/{insurer}/{month}")
async def scorecard_page(
    insurer: str, month: str, request: Request, session: PagePrincipal, state: StateDep, vendor: str | None = None
) -> Response:
    """A vendor's month: per vendor x service x clock it owes, the clocks due in the month and what became
    of them, the six months before as bars, and the breached requests, each linked to its audit page."""
    card = await _scorecard(request, session, state, insurer, month, vendor)
    if isinstance(card, Response):
        return card
    entries = {entry.id: entry for entry in state.catalog}
    insurer_name = next((e.insurer_name for e in entries.values() if e.insurer == insurer), insurer)
    vendors = sorted({line.vendor_id for line in card.lines} | {t.vendor_id for t in card.trends})
    context = {
        "session": session,
        "card": card,
        "insurer_name": insurer_name,
        "vendors": vendors,
        "lines_of": {v: [line for line in card.lines if line.vendor_id == v] for v in vendors},
        "bars_of": {t.vendor_id: trend_bars(t.points) for t in card.trends},
        "entries": entries,
        "clock_names": {(e.id, c.id): (c.name_zh, c.name_en) for e in entries.values() for c in e.clocks},
        "percent": percent,
        "previous": str(card.month.shifted(-1)),
        "next": str(card.month.shifted(1)),
        "vendor": vendor,
        "chart": {"width": WIDTH, "height": HEIGHT, "top": TOP, "baseline": BASELINE, "left": LEFT, "slot": SLOT},
    }
    return await render(request, "scorecard.html", context, pdf_name=f"scorecard-{insurer}-{card.month}")


@router.get("/scorecards/{insurer}/{month}/figures.json")
async def scorecard_figures(
    insurer: str, month: str, request: Request, session: PagePrincipal, state: StateDep, vendor: str | None = None
) -> Response:
    """The scorecard's lines as GET /v1/reports/compliance?insurer=&month=&party=vendor gives them, with the
    breached requests, for a signed-in browser."""
    card = await _scorecard(request, session, state, insurer, month, vendor)
    if isinstance(card, Response):
        return card
    body = {
        "insurer_id": card.insurer_id,
        "month": str(card.month),
        "lines": [asdict(line) for line in card.lines],
        "breached_requests": [
            {"vendor_id": v, "service_id": s, "clock_id": c, "party": p, "request_ids": ids}
            for (v, s, c, p), ids in sorted(card.breached_requests.items())
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/catalog/{service_id}")
async def terms_page(service_id: str, request: Request, session: PagePrincipal, state: StateDep) -> Response:
    """The terms enforced for one service, generated from the catalog entry that runs."""
    try:
        entry = state.catalog.get(service_id)
    except SlaError:
        return await problem_page(request, session, Problem(404, "Not Found", "no such service in the catalog"))
    clocks = [(spec, describe_clock(spec)) for spec in entry.clocks]
    windows = [(window, describe_window(window)) for window in entry.windows]
    context = {"session": session, "entry": entry, "clocks": clocks, "windows": windows, "parties": PARTY_WORDS}
    return await render(request, "catalog_terms.html", context, pdf_name=f"terms-{entry.id}")
