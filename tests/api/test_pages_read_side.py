"""The pages read what the API reads, on a seeded read model (bench/readmodel.py's mix) on SQLite and
PostgreSQL, with no Temporal behind it: the list page shows exactly the API list's requests for the
same filters, by next due; the audit page and the audit pack answer with the history unavailable
instead of failing; the PDF is the page's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sla.calendar.timeutil import SHANGHAI
from store.keys import Role, create_key
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
async def test_the_list_page_shows_the_api_lists_requests_for_the_same_filters_by_next_due(
    browser: tuple[httpx.AsyncClient, str], filters: dict[str, str]
) -> None:
    http, key = browser
    api = await http.get("/v1/requests", params=filters | {"limit": 100}, headers={"Authorization": f"Bearer {key}"})
    assert api.status_code == 200
    page = await http.get("/requests", params=filters)
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


async def test_the_audit_page_as_a_pdf_is_named_by_its_request(browser: tuple[httpx.AsyncClient, str]) -> None:
    http, _ = browser
    pdf = await http.get(f"/requests/{REQUEST}", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-disposition"] == f'attachment; filename="request-{REQUEST}.pdf"'
