"""The owing party in the figures, and a calendar month's report, over HTTP on SQLite and PostgreSQL:
a clock the insurer owes is reported under the insurer and never in a vendor's compliance (issue 21);
a month counts the clocks due in it (Asia/Shanghai, 24:00 of the last day included), and the
scorecard's figures are the report's for the same month."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.scorecard import scorecard
from harness.keys import TEST_KEYS_SETTING
from harness.projected import SPECIAL_DRUG, Projector, october_2025
from harness.readmodel_checks import assert_tallies_exact
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from sla.reports import CalendarMonth
from store.db import init_schema, make_engine
from store.keys import Principal, Role, create_key
from tests.helpers import at, fresh_database

INSURER = "axa_tianping"
NOW = at(2025, 12, 3, 10)


def principal_of(role: Role, vendor_id: str | None = None, insurer_id: str | None = None) -> Principal:
    return Principal("k", role, vendor_id, insurer_id, "")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(fresh_database(request, tmp_path, "month"))
    init_schema(db)
    yield db
    db.dispose()


@pytest.fixture
def projected(engine: Engine, calendar_dir: Path) -> Engine:
    october_2025(Projector(engine, calendar_dir))
    assert_tallies_exact(engine)
    return engine


def serve(engine: Engine, tmp_path: Path, calendar_dir: Path) -> Any:
    settings = Settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        calendar_dir=calendar_dir,
        payload_keys=TEST_KEYS_SETTING,
    )
    return serving(create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"), clock=lambda: NOW))


def report(url: str, key: str, **params: str) -> Any:
    answer = httpx.get(f"{url}/v1/reports/compliance", params=params, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return answer.json() if params.get("format") != "csv" else list(csv.DictReader(io.StringIO(answer.text)))


def by_clock(lines: list[dict[str, Any]], vendor: str = "vendor-a") -> dict[tuple[str, str], dict[str, Any]]:
    return {(line["clock_id"], line["party"]): line for line in lines if line["vendor_id"] == vendor}


def test_a_clock_the_insurer_owes_is_reported_under_the_insurer_and_never_in_a_vendors_compliance(
    projected: Engine, tmp_path: Path, calendar_dir: Path
) -> None:
    admin = create_key(projected, Role.ADMIN)
    with serve(projected, tmp_path, calendar_dir) as url:
        everything = by_clock(report(url, admin, vendor="vendor-a"))
        vendors_own = by_clock(report(url, admin, vendor="vendor-a", party="vendor"))
        as_csv = by_clock(report(url, admin, vendor="vendor-a", party="vendor", format="csv"))
        october = by_clock(report(url, admin, vendor="vendor-a", party="vendor", month="2025-10"))
    assert everything[("audit", "insurer")]["breached"] == 1  # the insurer's late audit, under the insurer
    assert set(vendors_own) == {("fulfil", "vendor")}
    assert (everything[("audit", "insurer")]["met"], everything[("audit", "insurer")]["compliance"]) == (4, 0.8)
    assert (vendors_own[("fulfil", "vendor")]["met"], vendors_own[("fulfil", "vendor")]["breached"]) == (2, 2)
    assert set(as_csv) == {("fulfil", "vendor")} and as_csv[("fulfil", "vendor")]["breached"] == "2"
    assert set(october) == {("fulfil", "vendor")}


def test_a_month_counts_the_clocks_due_in_it_with_24_00_of_its_last_day_and_those_open_past_due_at_its_end(
    projected: Engine, tmp_path: Path, calendar_dir: Path
) -> None:
    admin = create_key(projected, Role.ADMIN)
    with serve(projected, tmp_path, calendar_dir) as url:
        october = by_clock(report(url, admin, month="2025-10", party="vendor"))[("fulfil", "vendor")]
        november = report(url, admin, month="2025-11", party="vendor")
        both = httpx.get(
            f"{url}/v1/reports/compliance",
            params={"month": "2025-10", "period_from": "2025-10-01T00:00:00+08:00"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        malformed = httpx.get(
            f"{url}/v1/reports/compliance", params={"month": "2025-13"}, headers={"Authorization": f"Bearer {admin}"}
        )
    # r-late-audit and r-month-end met, r-late-delivery breached and still undelivered on 31 October,
    # r-still-running past its due instant with no outcome yet.
    assert (october["due"], october["met"], october["breached"], october["open_past_due"]) == (4, 2, 1, 2)
    assert october["compliance"] == round(2 / 3, 4)
    assert november == []  # the delivery due at 24:00 on 31 October is October's
    for refused in (both, malformed):
        assert refused.status_code == 422
        assert refused.json()["rule"].startswith("a month is YYYY-MM") and refused.json()["source"] == "sla/reports.py"


def test_the_scorecards_figures_are_the_month_reports_for_every_key_that_may_read_them(
    projected: Engine, tmp_path: Path, calendar_dir: Path
) -> None:
    keys = {
        "admin": (create_key(projected, Role.ADMIN), principal_of(Role.ADMIN)),
        "coordinator": (
            create_key(projected, Role.COORDINATOR, vendor_id="vendor-a"),
            principal_of(Role.COORDINATOR, vendor_id="vendor-a"),
        ),
        "auditor": (
            create_key(projected, Role.AUDITOR, insurer_id=INSURER),
            principal_of(Role.AUDITOR, insurer_id=INSURER),
        ),
    }
    month = CalendarMonth.parse("2025-10")
    vendors_seen = {}
    with serve(projected, tmp_path, calendar_dir) as url:
        for name, (key, reader) in keys.items():
            from_report = report(url, key, insurer=INSURER, month=str(month), party="vendor")
            with projected.connect() as connection:
                card = scorecard(connection, reader, INSURER, month, NOW)
            assert card is not None
            assert [line.__dict__ for line in card.lines] == from_report, name
            vendors_seen[name] = {line["vendor_id"] for line in from_report}
    both = {"vendor-a", "vendor-b"}
    assert vendors_seen == {"admin": both, "coordinator": {"vendor-a"}, "auditor": both}
    with projected.connect() as connection:
        card = scorecard(connection, principal_of(Role.OPERATIONS), INSURER, month, NOW)
        other_vendor = scorecard(connection, keys["coordinator"][1], INSURER, month, NOW, vendor_id="vendor-b")
        other_insurer = scorecard(connection, principal_of(Role.AUDITOR, insurer_id="zhongan"), INSURER, month, NOW)
    assert card is not None and other_vendor is None and other_insurer is None
    assert card.breached_requests == {("vendor-a", SPECIAL_DRUG, "fulfil", "vendor"): ["r-late-delivery"]}
    [trend_a, trend_b] = card.trends
    assert [str(p.month) for p in trend_a.points] == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"]
    assert (trend_a.points[-1].met, trend_a.points[-1].breached, trend_b.points[-1].compliance) == (0, 1, None)


@contextmanager
def signed_in(url: str, key: str) -> Iterator[httpx.Client]:
    """A browser signed in at /login with `key` (the form's CSRF token repeated, as a browser does)."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as browser:
        form = browser.get("/login?next=/requests")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        assert browser.post("/login", data={"key": key, "csrf": csrf[1], "next": "/requests"}).status_code == 303
        yield browser


def test_the_scorecard_page_shows_a_coordinator_its_own_rows_and_another_vendors_or_insurers_as_404(
    projected: Engine, tmp_path: Path, calendar_dir: Path
) -> None:
    coordinator = create_key(projected, Role.COORDINATOR, vendor_id="vendor-a")
    other_auditor = create_key(projected, Role.AUDITOR, insurer_id="zhongan")
    page_path = f"/scorecards/{INSURER}/2025-10"
    with serve(projected, tmp_path, calendar_dir) as url, signed_in(url, coordinator) as browser:
        page = browser.get(page_path)
        other_vendor = browser.get(page_path, params={"vendor": "vendor-b"})
        unknown = browser.get("/scorecards/nobody/2025-10")
        malformed = browser.get(f"/scorecards/{INSURER}/2025-13")
        pdf = browser.get(page_path, params={"format": "pdf"})
        figures = browser.get(f"{page_path}/figures.json").json()
        with signed_in(url, other_auditor) as auditor:
            other_insurer = auditor.get(page_path)
    assert page.status_code == 200
    assert 'data-vendor="vendor-a"' in page.text and "vendor-b" not in page.text
    assert '<td class="num" data-figure="open_past_due">2</td>' in page.text
    assert '<td class="num" data-figure="compliance">66.67 %</td>' in page.text
    assert 'href="/requests/r-late-delivery"' in page.text and 'data-clock="audit"' not in page.text
    assert [line["clock_id"] for line in figures["lines"]] == ["fulfil"]
    for refused in (other_vendor, unknown, malformed, other_insurer):
        assert refused.status_code == 404 and "vendor-a" not in refused.text.split("<main>")[1]
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="scorecard-{INSURER}-2025-10.pdf"'


def test_the_terms_page_says_who_owes_each_clock_and_quotes_its_line(
    projected: Engine, tmp_path: Path, calendar_dir: Path
) -> None:
    auditor = create_key(projected, Role.AUDITOR, insurer_id=INSURER)
    with serve(projected, tmp_path, calendar_dir) as url, signed_in(url, auditor) as browser:
        page = browser.get(f"/catalog/{SPECIAL_DRUG}")
        pdf = browser.get(f"/catalog/{SPECIAL_DRUG}", params={"format": "pdf"})
        unknown = browser.get("/catalog/no.such.service")
    assert page.status_code == 200
    audit = page.text.split('data-clock="audit"')[1].split("</section>")[0]
    assert 'data-party="insurer"' in audit and "never in a vendor's compliance" in audit
    assert "[002:349, 357]" in audit and "1 · working_days" in audit
    fulfil = page.text.split('data-clock="fulfil"')[1].split("</section>")[0]
    assert 'data-party="vendor"' in fulfil and "never in a vendor" not in fulfil
    assert 'data-window="apply_four_days_before_purchase"' in page.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert unknown.status_code == 404
