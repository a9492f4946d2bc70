"""The pages read what the API reads, on a seeded read model (bench/readmodel.py's mix) on SQLite and
PostgreSQL, with no Temporal behind it: the owed list gives, page by page, exactly the open requests
with a clock running or breached, by next due, as a brute-force reading of every row says; newest
first it shows exactly the API list's requests; the audit page and the audit pack answer with the
history unavailable instead of failing; the PDF is the page's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from api.reads import ListFilter, owed_page
from api.views import visible
from sla.calendar.timeutil import SHANGHAI
from sla.engine.reading import Phase, phase_at
from store.keys import Principal, Role, authenticate, create_key
from store.models import ClockRow, RequestRow, table_of
from tests.helpers import seeded_read_side

NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)
REQUEST = f"seed{0:07d}7"  # one of the seeded requests (bench/readmodel.py names them so)


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with seeded_read_side(request, tmp_path, "pages", 300, NOW) as application:
        yield application


@pytest_asyncio.fixture
async def browser(app: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A signed-in client (cookie session) and the same key as a bearer for the API."""
    key = create_key(app.state.slatrack.engine, Role.OPERATIONS, label="pages")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pages") as http:
        form = await http.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        signed_in = await http.post("/login", data={"key": key, "csrf": token.group(1), "next": "/requests"})
        assert signed_in.status_code == 303
        yield http, key


@pytest.mark.parametrize(
    "filters",
    [{}, {"clock_state": "breached"}, {"clock_state": "at_risk"}, {"vendor": "vendor-late", "state": "open"}],
    ids=["all", "breached", "at risk", "a vendor's open"],
)
async def test_newest_first_the_list_page_shows_the_api_lists_requests_for_the_same_filters_by_next_due(
    browser: tuple[httpx.AsyncClient, str], filters: dict[str, str]
) -> None:
    http, key = browser
    api = await http.get("/v1/requests", params=filters | {"limit": 100}, headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 200
    page = await http.get("/requests", params=filters | {"order": "opened"})
    assert page.status_code == 200
    shown = re.findall(r'<a href="/requests/([^"]+)"><code>', page.text)
    assert sorted(shown) == sorted(item["id"] for item in api.json()["items"])
    owed = {
        item["id"]: min(c["due_at"] for c in item["clocks"] if c["due_at"] and c["state"] in ("running", "breached"))
        for item in api.json()["items"]
        if item["status"] == "open"
        and any(c["due_at"] and c["state"] in ("running", "breached") for c in item["clocks"])
    }
    first = [request_id for request_id in shown if request_id in owed]
    assert first == shown[: len(first)]  # the owed requests come first ...
    dues = [owed[request_id] for request_id in first]
    assert dues == sorted(dues)  # ... soonest due first


async def test_with_temporal_unreachable_the_audit_page_and_pack_say_the_history_is_unavailable(
    browser: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = browser
    pack = await http.get(f"/v1/requests/{REQUEST}/audit", headers={"Authorization": f"Bearer {key}"})
    assert pack.status_code == 200, pack.text  # was a 500: the lazy client's connect error escaped
    assert pack.json()["replay"] == {
        "verified": False,
        "failure": "history unavailable: not archived and Temporal unreachable",
    }
    page = await http.get(f"/requests/{REQUEST}")
    assert page.status_code == 200
    assert "未校验 not checked" in page.text and "history unavailable" in page.text
    as_json = await http.get(f"/requests/{REQUEST}/audit.json")
    assert as_json.json() == pack.json()


async def test_the_audit_page_and_the_list_as_pdfs_are_named_by_what_they_show(
    browser: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = browser
    pdf = await http.get(f"/requests/{REQUEST}", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"] == f'attachment; filename="request-{REQUEST}.pdf"'
    listing = await http.get("/requests", params={"format": "pdf", "clock_state": "breached"})
    assert listing.status_code == 200 and listing.content.startswith(b"%PDF-")
    assert listing.headers["content-disposition"] == 'attachment; filename="requests.pdf"'


def _owed_by_brute_force(app: Any, principal: Principal, clock_state: str | None) -> list[str]:
    """Every open request in scope with a clock running or breached and not stopped (read at NOW by
    sla.engine.reading.phase_at, the one definition), by its next due instant and id."""
    with app.state.slatrack.engine.connect() as connection:
        requests = {r.id: r for r in connection.execute(select(table_of(RequestRow)))}
        clocks = connection.execute(select(table_of(ClockRow))).all()
    due: dict[str, datetime] = {}
    for clock in clocks:
        request = requests[clock.request_id]
        phase = phase_at(clock.phase, clock.due_at, clock.at_risk_from, NOW)
        owed = phase in (Phase.RUNNING, Phase.AT_RISK, Phase.BREACHED) and clock.stopped_at is None
        wanted = (
            clock_state is None or phase is Phase(clock_state) or (clock_state == "running" and phase is Phase.AT_RISK)
        )
        if owed and wanted and request.status == "open" and visible(principal, request) and clock.due_at is not None:
            due[clock.request_id] = min(due.get(clock.request_id, clock.due_at), clock.due_at)
    return sorted(due, key=lambda request_id: (due[request_id], request_id))


@pytest.mark.parametrize("clock_state", [None, "running", "at_risk", "breached"])
@pytest.mark.parametrize("role", ["operations", "coordinator", "auditor"])
def test_the_owed_list_pages_through_exactly_what_is_owed_by_next_due(
    app: Any, role: str, clock_state: str | None
) -> None:
    engine = app.state.slatrack.engine
    scope = {"coordinator": {"vendor_id": "vendor-late"}, "auditor": {"insurer_id": "zhongan"}}.get(role, {})
    principal = authenticate(engine, create_key(engine, Role(role), **scope))
    assert principal is not None
    shown: list[str] = []
    cursor = None
    with engine.connect() as connection:
        while True:
            page = owed_page(connection, principal, ListFilter(clock_state=clock_state, cursor=cursor, limit=7), NOW)
            shown += [item.id for item in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    expected = _owed_by_brute_force(app, principal, clock_state)
    assert expected, "the seeded mix has owed requests in every scope"
    assert shown == expected
