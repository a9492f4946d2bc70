"""The codec server: Temporal's web UI and CLI send encrypted payloads here and show what comes back.

Temporal's codec server protocol (temporalio/samples-python encryption/codec_server.py, docs
"Codec Server"): `POST {endpoint}/decode` and `/encode`, body and answer `{"payloads": [...]}` in
proto3 JSON (every `metadata` value and `data` base64), header `X-Namespace`. The decrypted payloads
reach only the caller's browser or terminal; Temporal keeps the ciphertext.

Who may call it: an auditor or admin key (decode), an admin key (encode, which the UI needs only to
send input into a workflow). The key arrives one of two ways:
- `Authorization: Bearer <key>`: the CLI (`--codec-auth "Bearer sk_..."`), scripts;
- a cookie set by signing in at `/codec/login`: the web UI, with its codec setting "Include
  cross-origin credentials". (The UI's other option, "Pass the user access token", sends the token
  of its own OIDC login, which is no slatrack key, and only to https endpoints.) A cookie is honoured
  only on calls whose Origin is an allowed UI origin (SLA_CODEC_CORS_ORIGINS).

Every call is logged with who, the namespace and the payload count (no payload content).
"""

from __future__ import annotations

import asyncio
import html
import logging
import urllib.parse

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from api.deps import StateDep
from api.problems import Problem
from api.state import AppState
from runtime.temporal import build_data_converter
from store.keys import Principal, Role, authenticate

router = APIRouter(prefix="/codec", tags=["codec"], include_in_schema=False)
log = logging.getLogger("slatrack.codec")

COOKIE = "slatrack_codec_key"
COOKIE_MAX_AGE = 8 * 3600  # a working day, then sign in again
ALLOWED_HEADERS = "Authorization, Authorization-Extras, Content-Type, X-Namespace"
ROLES = {"decode": (Role.AUDITOR, Role.ADMIN), "encode": (Role.ADMIN,)}


def cors_headers(state: AppState, request: Request) -> dict[str, str]:
    """CORS answer for an allowed UI origin; nothing for any other (the browser then blocks)."""
    origin = request.headers.get("origin", "")
    if origin.rstrip("/") not in state.settings.codec_origins:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


async def _authenticate(state: AppState, key: str) -> Principal | None:
    return await asyncio.to_thread(authenticate, state.engine, key)  # a database read: off the event loop


async def codec_principal(state: AppState, request: Request, cors: dict[str, str]) -> Principal:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        principal = await _authenticate(state, bearer.strip())
        if principal is not None:
            return principal
    cookie = request.cookies.get(COOKIE)
    if cookie:
        if "Access-Control-Allow-Origin" not in cors:
            raise Problem(403, "Forbidden", "a signed-in codec call must come from an allowed UI origin", headers=cors)
        principal = await _authenticate(state, cookie)
        if principal is not None:
            return principal
    raise Problem(
        401,
        "Unauthorized",
        "send Authorization: Bearer <auditor or admin key>, or sign in at /codec/login",
        headers=cors | {"WWW-Authenticate": "Bearer"},
    )


async def convert(operation: str, state: AppState, request: Request) -> Response:
    cors = cors_headers(state, request)
    principal = await codec_principal(state, request, cors)
    if principal.role not in ROLES[operation]:
        allowed = ", ".join(role.value for role in ROLES[operation])
        raise Problem(
            403, "Forbidden", f"a {principal.role.value} key may not {operation} (allowed: {allowed})", headers=cors
        )
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Problem(415, "Unsupported Media Type", 'send {"payloads": [...]} as application/json', headers=cors)
    try:
        payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise Problem(400, "Bad Request", f'not a {{"payloads": [...]}} body: {error}', headers=cors) from None
    codec = build_data_converter(state.settings.keys()).payload_codec  # the one codec of runtime/temporal.py
    if codec is None:
        raise RuntimeError("the data converter has no payload codec")
    try:
        if operation == "decode":
            converted = await codec.decode(payloads.payloads)
        else:
            converted = await codec.encode(payloads.payloads)
    except (ValueError, InvalidTag, DecodeError) as error:
        detail = str(error) if isinstance(error, ValueError) else "a payload does not decrypt with the configured keys"
        raise Problem(422, "Unprocessable Content", f"payloads: {detail}", headers=cors) from None
    namespace = request.headers.get("x-namespace", "")[:100]
    log.info("codec %s: %d payloads, namespace %r, by %s", operation, len(converted), namespace, principal.sender)
    body = {"payloads": [json_format.MessageToDict(payload) for payload in converted]}
    return JSONResponse(body, headers=cors)


def preflight(state: AppState, request: Request) -> Response:
    cors = cors_headers(state, request)
    if "Access-Control-Allow-Origin" not in cors:
        origins = ", ".join(sorted(state.settings.codec_origins))
        return Problem(403, "Forbidden", f"origin not allowed (SLA_CODEC_CORS_ORIGINS: {origins})").response(
            request.url.path
        )
    headers = cors | {
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.post("/decode")
async def decode(state: StateDep, request: Request) -> Response:
    return await convert("decode", state, request)


@router.post("/encode")
async def encode(state: StateDep, request: Request) -> Response:
    return await convert("encode", state, request)


@router.options("/decode")
@router.options("/encode")
def cors_preflight(state: StateDep, request: Request) -> Response:
    return preflight(state, request)


# Signing in: the UI cannot be given a key, but it can send this site's cookie ("Include cross-origin
# credentials"). HttpOnly (no script reads it), SameSite=Strict (never sent from another site: the UI
# and the API must share a host name or registrable domain), Secure when served over https.

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slatrack codec server</title></head>
<body style="font-family: sans-serif; max-width: 44em; margin: 3em auto">
<h1>slatrack codec server</h1>
{body}
</body></html>"""

FORM = """<p>Sign in with an <b>auditor</b> or <b>admin</b> API key to see decoded payloads in the Temporal web UI.</p>
<form method="post" action="/codec/login">
<label>API key <input name="key" type="password" size="60" autocomplete="off" required></label>
<button type="submit">Sign in</button>
</form>"""


def page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/login")
def login_form() -> HTMLResponse:
    return page(FORM)


@router.post("/login")
async def login(state: StateDep, request: Request) -> HTMLResponse:
    fields = urllib.parse.parse_qs((await request.body()).decode(errors="replace"))
    key = (fields.get("key") or [""])[0].strip()
    principal = await _authenticate(state, key) if key else None
    if principal is None:
        return page(f"<p><b>Unknown or revoked key.</b></p>{FORM}", 401)
    if principal.role not in ROLES["decode"]:
        return page(f"<p><b>A {principal.role.value} key cannot decode payloads.</b></p>{FORM}", 403)
    endpoint = html.escape(f"{request.base_url}codec")
    response = page(
        f"<p id='signed-in'>Signed in as <code>{html.escape(principal.sender)}</code> for 8 hours.</p>"
        "<p>In the Temporal web UI open <i>Codec Server</i> settings, choose <i>Use my browser setting</i>, "
        f"enter <code>{endpoint}</code> and tick <i>Include cross-origin credentials</i>.</p>"
        '<form method="post" action="/codec/logout"><button type="submit">Sign out</button></form>'
    )
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_MAX_AGE,
        path="/codec",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("codec sign-in by %s", principal.sender)
    return response


@router.post("/logout")
def logout() -> HTMLResponse:
    response = page(f"<p>Signed out.</p>{FORM}")
    response.delete_cookie(COOKIE, path="/codec", httponly=True, samesite="strict")
    return response
