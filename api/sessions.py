"""One session mechanism for every browser surface (the pages in web/, the codec server in
api/routes/codec.py): sign in with an API key on a form, then a random session id in a cookie.

The cookie: HttpOnly (no script reads it), SameSite=Lax (not sent on another site's forms or
fetches, but sent when a person follows a link here), Secure when SLA_SESSION_COOKIE_SECURE says the
app sits behind TLS, path / (the pages and /codec share it). Expiry, sign-out and revocation are
decided in the database (store/sessions.py) on every call.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi import Request, Response

from api.state import AppState
from store.keys import Principal
from store.sessions import WebSession, end_session, find_session, start_session

COOKIE = "slatrack_session"


def current_session(state: AppState, request: Request) -> WebSession | None:
    """The request's live session, or None. A database read: call it off the event loop."""
    session_id = request.cookies.get(COOKIE, "")
    return find_session(state.engine, session_id, state.now()) if session_id else None


def sign_in(state: AppState, response: Response, principal: Principal) -> WebSession:
    """Start a session for an authenticated key and set its cookie on `response`."""
    lifetime = timedelta(hours=state.settings.session_hours)
    session_id, session = start_session(state.engine, principal, state.now(), lifetime)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=state.settings.session_cookie_secure,
    )
    return session


def sign_out(state: AppState, request: Request, response: Response) -> None:
    session_id = request.cookies.get(COOKIE, "")
    if session_id:
        end_session(state.engine, session_id)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=state.settings.session_cookie_secure)


def csrf_matches(session: WebSession, presented: str) -> bool:
    """A form of this session: it carries the session's CSRF token (constant-time compare)."""
    return bool(presented) and hmac.compare_digest(session.csrf_token.encode(), presented.encode())
