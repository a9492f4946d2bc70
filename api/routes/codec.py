"""The codec server: Temporal's web UI and CLI send encrypted payloads here and show what comes back.

Temporal's codec server protocol (temporalio/samples-python encryption/codec_server.py, docs
"Codec Server"): `POST {endpoint}/decode` and `/encode`, body and answer `{"payloads": [...]}` in
proto3 JSON (every `metadata` value and `data` base64), header `X-Namespace`. The decrypted payloads
reach only the caller's browser or terminal; Temporal keeps the ciphertext.

Who may call it: an auditor or admin key (decode), an admin key (encode, which the UI needs only to
send input into a workflow). The key arrives one of two ways:
- `Authorization: Bearer <key>`: the CLI (`--codec-auth "Bearer sk_..."`), scripts;
- the session cookie of signing in at `/codec/login` (the pages' sign-in, api/sessions.py: a random
  session id, never the key): the web UI, with its codec setting "Include cross-origin credentials".
  (The UI's other option, "Pass the user access token", sends the token of its own OIDC login, which
  is no slatrack key, and only to https endpoints.) A session is honoured only on calls whose Origin
  is an allowed UI origin (SLA_CODEC_CORS_ORIGINS); the UI and the API must share a host name (the
  cookie is SameSite=Lax, so another site's fetch never carries it).

Every call is logged with who, the namespace and the payload count (no payload content).
"""

from __future__ import annotations

import asyncio
import logging

from cryptography.exceptions import InvalidTag
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from api.access import Action, allowed_roles, may
from api.deps import StateDep
from api.problems import Problem
from api.sessions import COOKIE, current_session
from api.state import AppState
from runtime.temporal import build_data_converter
from store.keys import Principal, authenticate

router = APIRouter(prefix="/codec", tags=["codec"], include_in_schema=False)
log = logging.getLogger("slatrack.codec")

ALLOWED_HEADERS = "Authorization, Authorization-Extras, Content-Type, X-Namespace"
ACTIONS = {"decode": Action.DECODE_PAYLOADS, "encode": Action.ENCODE_PAYLOADS}


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
    if request.cookies.get(COOKIE):
        if "Access-Control-Allow-Origin" not in cors:
            raise Problem(403, "Forbidden", "a signed-in codec call must come from an allowed UI origin", headers=cors)
        session = await asyncio.to_thread(current_session, state, request)  # a database read
        if session is not None:
            return session.principal
    raise Problem(
        401,
        "Unauthorized",
        "send Authorization: Bearer <auditor or admin key>, or sign in at /codec/login",
        headers=cors | {"WWW-Authenticate": "Bearer"},
    )


async def convert(operation: str, state: AppState, request: Request) -> Response:
    cors = cors_headers(state, request)
    principal = await codec_principal(state, request, cors)
    if not may(principal, ACTIONS[operation]):
        allowed = allowed_roles(ACTIONS[operation])
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


# Signing in (/codec/login) is the pages' sign-in (web/session.py): one session mechanism.
