"""Signing in to the pages and the codec server (api/sessions.py, web/session.py) over real HTTP: a
random session id in the cookie (never the key), HttpOnly, SameSite=Lax, Secure by setting, expiry
and revocation decided by the database on every call, a CSRF token on every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from api.app import create_app
from api.sessions import COOKIE
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from store.keys import Role, create_key, revoke_key
from store.models import WebSessionRow, table_of

SESSIONS = table_of(WebSessionRow)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 10, 9, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> Iterator[str]:
    app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"), clock)
    with serving(app) as url:
        yield url


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(browser: httpx.Client, key: str, wanted: str = "/requests") -> httpx.Response:
    form = browser.get(f"/login?next={wanted}")
    assert form.status_code == 200
    return browser.post("/login", data={"key": key, "csrf": csrf_of(form.text), "next": wanted})


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(site: str) -> None:
    with httpx.Client(base_url=site) as browser:
        answer = browser.get("/requests/r-1?format=pdf")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Frequests%2Fr-1%3Fformat%3Dpdf"


def test_signing_in_sets_a_random_session_id_never_the_key(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.AUDITOR, insurer_id="axa_tianping", label="desk")
    with httpx.Client(base_url=site) as browser:
        answer = sign_in(browser, key, "/requests")
        assert answer.status_code == 303 and answer.headers["location"] == "/requests"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
        value = cookie.split(";")[0].split("=", 1)[1]
        assert key not in cookie and key.split("_", 2)[2] not in cookie and len(value) >= 40
        attributes = cookie.lower()
        for attribute in ("httponly", "samesite=lax", "path=/", "max-age=28800"):
            assert attribute in attributes, attribute
        assert "secure" not in attributes.replace("samesite", "")
    with engine.connect() as connection:
        stored = connection.execute(select(SESSIONS.c.id_sha256)).scalars().all()
    assert value not in stored and len(stored) == 1  # only the digest is kept


def test_the_session_cookie_is_secure_when_the_setting_says_tls_is_in_front(settings: Settings, engine: Engine) -> None:
    behind_tls = settings.model_copy(update={"session_cookie_secure": True})
    key = create_key(engine, Role.ADMIN, label="tls")
    app = create_app(behind_tls, TemporalSettings(address=f"127.0.0.1:{free_port()}"))
    with serving(app) as url, httpx.Client(base_url=url) as browser:
        answer = sign_in(browser, key)
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}="))
        assert "; secure" in cookie.lower()


def test_a_wrong_key_or_a_login_form_without_its_csrf_token_starts_no_session(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.ADMIN, label="admin")
    with httpx.Client(base_url=site) as browser:
        refused = sign_in(browser, "sk_000000000000_not-a-key")
        assert refused.status_code == 401 and "Unknown or revoked key" in refused.text
        forged = browser.post("/login", data={"key": key, "csrf": "guessed", "next": "/requests"})
        assert forged.status_code == 403
        assert not any(c.startswith(f"{COOKIE}=") for c in forged.headers.get_list("set-cookie"))


def test_after_signing_in_the_browser_goes_only_to_a_path_on_this_site(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.ADMIN, label="admin")
    for wanted in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        with httpx.Client(base_url=site) as browser:
            assert sign_in(browser, key, wanted).headers["location"] == "/requests"


def test_a_revoked_key_ends_its_sessions_at_once(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.ADMIN, label="admin")
    with httpx.Client(base_url=site) as browser:
        sign_in(browser, key)
        assert browser.get("/requests/nothing-here").status_code == 404  # signed in: a page answers
        revoke_key(engine, key.split("_")[1])
        assert browser.get("/requests/nothing-here").status_code == 303  # the very next call


def test_a_session_expires_when_its_hours_are_over(site: str, engine: Engine, clock: Clock) -> None:
    key = create_key(engine, Role.ADMIN, label="admin")
    with httpx.Client(base_url=site) as browser:
        sign_in(browser, key)
        clock.now += timedelta(hours=7, minutes=59)
        assert browser.get("/requests/nothing-here").status_code == 404
        clock.now += timedelta(minutes=1)
        assert browser.get("/requests/nothing-here").status_code == 303


def test_signing_out_needs_the_sessions_csrf_token_and_ends_the_session(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.ADMIN, label="admin")
    with httpx.Client(base_url=site) as browser:
        sign_in(browser, key)
        page = browser.get("/requests/nothing-here")
        assert browser.post("/logout", data={"csrf": "guessed"}).status_code == 403
        assert browser.get("/requests/nothing-here").status_code == 404  # still signed in
        signed_out = browser.post("/logout", data={"csrf": csrf_of(page.text)})
        assert signed_out.status_code == 303
        assert browser.get("/requests/nothing-here").status_code == 303
    with engine.connect() as connection:
        assert connection.execute(select(SESSIONS)).all() == []


def test_a_revoked_api_key_is_refused_at_its_next_call_not_seconds_later(site: str, engine: Engine) -> None:
    key = create_key(engine, Role.OPERATIONS, label="ops")
    bearer = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=site) as client:
        assert client.get("/v1/requests", headers=bearer).status_code == 200
        revoke_key(engine, key.split("_")[1])  # as `slatrack keys revoke` does, from another process
        assert client.get("/v1/requests", headers=bearer).status_code == 401
