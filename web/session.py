"""Signing in to the pages: `/login` takes an API key on a form and starts a session (api/sessions.py);
`PagePrincipal` gives a page its signed-in session, or sends the browser to /login.

Forms carry a CSRF token: the session's own once signed in; before that (the login form) a random
value in a short-lived cookie that the form must repeat (double submit), so another site cannot sign
a browser in with its own key.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.access import Action, may
from api.deps import StateDep
from api.sessions import csrf_matches, current_session, sign_in, sign_out
from store.keys import authenticate
from store.sessions import WebSession
from web.render import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("slatrack.web")

LOGIN_CSRF_COOKIE = "slatrack_login_csrf"
HOME = "/requests"


class SignInRequired(Exception):
    """A page asked for without a live session: the app answers 303 to /login?next=<the page>."""

    def __init__(self, wanted: str) -> None:
        super().__init__(wanted)
        self.wanted = wanted


def local_path(wanted: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //host or a scheme)."""
    if not wanted or not wanted.startswith("/") or wanted.startswith("//") or "\\" in wanted:
        return HOME
    return wanted


def page_session(state: StateDep, request: Request) -> WebSession:
    """The signed-in session of a page (FastAPI runs this sync dependency off the event loop)."""
    session = current_session(state, request)
    if session is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(request.url.path + query)
    return session


PagePrincipal = Annotated[WebSession, Depends(page_session)]


def sign_in_redirect(request: Request, error: SignInRequired) -> Response:
    del request
    return RedirectResponse(f"/login?{urllib.parse.urlencode({'next': error.wanted})}", status_code=303)


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as its first value per name."""
    fields = urllib.parse.parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def _login_page(request: Request, wanted: str, message: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    context = {"csrf_token": token, "next": local_path(wanted), "message": message, "session": None}
    response = await render(request, "login.html", context, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="lax")
    return response


@router.get("/login")
async def login_form(request: Request, next: str = HOME) -> Response:
    return await _login_page(request, next)


@router.post("/login")
async def login(state: StateDep, request: Request) -> Response:
    fields = await form_fields(request)
    wanted = local_path(fields.get("next"))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = fields.get("csrf", "")
    if not expected or not hmac.compare_digest(expected.encode(), presented.encode()):
        return await _login_page(request, wanted, "表单已过期，请重新登录。The form expired; sign in again.", 403)
    key = fields.get("key", "").strip()
    principal = await run_in_threadpool(authenticate, state.engine, key) if key else None
    if principal is None:
        return await _login_page(request, wanted, "密钥无效或已吊销。Unknown or revoked key.", 401)
    response = RedirectResponse(wanted, status_code=303)
    await run_in_threadpool(sign_in, state, response, principal)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    log.info("page sign-in by %s", principal.sender)
    return response


@router.post("/logout")
async def logout(state: StateDep, request: Request) -> Response:
    fields = await form_fields(request)
    session = await run_in_threadpool(current_session, state, request)
    if session is not None and not csrf_matches(session, fields.get("csrf", "")):
        return Response("CSRF token missing or wrong", status_code=403, media_type="text/plain")
    response = RedirectResponse("/login", status_code=303)
    await run_in_threadpool(sign_out, state, request, response)
    return response


# -- the codec server's sign-in: the same form and session; the page says how to set up the UI --------
@router.get("/codec/login")
async def codec_login_form(request: Request) -> Response:
    return await _login_page(request, "/codec/session")


@router.get("/codec/session")
async def codec_session(request: Request, session: PagePrincipal) -> Response:
    context = {
        "session": session,
        "may_decode": may(session.principal, Action.DECODE_PAYLOADS),
        "endpoint": f"{request.base_url}codec",
    }
    return await render(request, "codec_session.html", context, status=200 if context["may_decode"] else 403)
