"""The app factory: nothing is created at import time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import web.app
from api import metrics_auth, problems
from api.metrics import HttpMetrics, build_registry
from api.problems import RETRY_AFTER_SECONDS, Problem
from api.routes import admin, audit, calendar, catalog, codec, health, reports, requests, vendors
from api.state import AppState
from runtime.settings import Settings, TemporalSettings, get_settings
from store.keys import authenticate

MAX_BODY_BYTES = 1024 * 1024
# The request line and headers together; uvicorn is told the same (api/server.py), since h11 checks it
# only while headers are still arriving.
MAX_HEADER_BYTES = 16 * 1024
BYTE_ORDER_MARK = b"\xef\xbb\xbf"


class BodyLimit:
    """Refuse, before any handler runs: headers over MAX_HEADER_BYTES (431), bodies over MAX_BODY_BYTES,
    declared or streamed (413), and JSON that begins with a byte order mark (422; RFC 8259 8.1 forbids
    sending one, and Python's parser would silently skip it). The body is read whole here, at most
    MAX_BODY_BYTES of it: a 413 raised inside a handler's read used to become FastAPI's bare 400. A body
    not received within `read_seconds` answers 408: a client trickling bytes holds a slot no longer."""

    def __init__(self, app: ASGIApp, read_seconds: float) -> None:
        self.app, self.read_seconds = app, read_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _refused_by_headers(scope)
        read = await self._read_body(receive) if refusal is None else refusal
        if isinstance(read, Problem):
            await read.response(scope["path"])(scope, receive, send)
            return
        message, body = read
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"json")
        if body.startswith(BYTE_ORDER_MARK) and b"json" in content_type.lower():
            bom = Problem(
                422, "Unprocessable Content", "body: JSON must not begin with a byte order mark (RFC 8259, 8.1)"
            )
            loc = {"loc": ["body", 0], "msg": bom.detail, "type": "json_invalid"}
            await bom.response(scope["path"], errors=[loc])(scope, receive, send)
            return
        pending: Message | None = message

        async def replay() -> Message:
            nonlocal pending
            if pending is None:
                return await receive()
            first, pending = pending, None
            return first

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> tuple[Message, bytes] | Problem:
        """The whole body, as one message the handler will receive, with its bytes; or a 413 past
        MAX_BODY_BYTES, or a 408 past `read_seconds`. A client that left gets its disconnect replayed."""
        body = bytearray()
        try:
            async with asyncio.timeout(self.read_seconds):  # a slow body holds a slot for this long at most
                while True:
                    message = await receive()
                    if message["type"] != "http.request":  # the client left: the handler will see it
                        return message, bytes(body)
                    body += message.get("body", b"")
                    if len(body) > MAX_BODY_BYTES:
                        return _body_too_large()
                    if not message.get("more_body", False):
                        return {"type": "http.request", "body": bytes(body), "more_body": False}, bytes(body)
        except TimeoutError:
            return Problem(
                408,
                "Request Timeout",
                f"body: not received within {self.read_seconds:g} s; send it at once",
                headers={"Connection": "close"},
            )


def _body_too_large() -> Problem:
    return Problem(413, "Content Too Large", f"body: bodies are limited to {MAX_BODY_BYTES} bytes")


def _refused_by_headers(scope: Scope) -> Problem | None:
    """A 431 for a request line and headers over MAX_HEADER_BYTES, a 413 for a declared length over
    MAX_BODY_BYTES; None when the body may be read."""
    headers = scope.get("headers", [])
    size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
    size += sum(len(name) + len(value) + 4 for name, value in headers)
    if size > MAX_HEADER_BYTES:
        return header_fields_too_large()
    declared = dict(headers).get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return _body_too_large()
    return None


def header_fields_too_large() -> Problem:
    return Problem(
        431,
        "Request Header Fields Too Large",
        f"headers: the request line and headers are limited to {MAX_HEADER_BYTES} bytes",
    )


class Admission:
    """Who may hold the API's capacity, decided before a body is read.

    At most `limit` calls in progress (beyond: 503 with Retry-After at once, not an unbounded queue); of
    them at most `unauthenticated_share` without a valid bearer key (the codec's sign-in, the docs), so
    callers with a key always find room: 210 slow unauthenticated bodies used to hold every slot.
    A call under /v1/ that carries a body needs a valid key before one byte of it is read (401 at once;
    the route would answer 401 anyway, after reading it). Liveness and metrics stay outside, so they
    keep answering."""

    EXEMPT = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, state: AppState, limit: int, unauthenticated_share: int) -> None:
        self.app, self.state = app, state
        self.limit, self.unauthenticated_limit = limit, max(1, min(limit, unauthenticated_share))
        self.in_flight = self.unauthenticated = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        refusal = None
        try:
            authenticated = await self._authenticated(scope)
        except (OperationalError, SQLAlchemyTimeout):  # outside the app's handlers: answer as they would
            unavailable = Problem(
                503,
                "Service Unavailable",
                "the database is unavailable, so the API key cannot be checked; retry shortly",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
            await unavailable.response(scope["path"])(scope, receive, send)
            return
        if authenticated is not True and scope["path"].startswith("/v1/") and _carries_body(scope):
            refusal = _unauthorized(authenticated)
        elif self.in_flight >= self.limit or (not authenticated and self.unauthenticated >= self.unauthenticated_limit):
            limit = self.limit if authenticated else self.unauthenticated_limit
            who = "" if authenticated else " without an API key"
            refusal = Problem(
                503,
                "Service Unavailable",
                f"more than {limit} calls{who} in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
        if refusal is not None:
            await refusal.response(scope["path"])(scope, receive, send)
            return
        self.in_flight += 1
        self.unauthenticated += not authenticated
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.unauthenticated -= not authenticated

    async def _authenticated(self, scope: Scope) -> bool | None:
        """True for a valid bearer key, False for an unknown or revoked one, None when none was sent."""
        value = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = value.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        principal = await run_in_threadpool(authenticate, self.state.engine, key.strip())  # a database read
        return principal is not None


def _carries_body(scope: Scope) -> bool:
    fields = dict(scope.get("headers", []))
    declared = fields.get(b"content-length")
    return b"transfer-encoding" in fields or (declared is not None and declared.strip() not in (b"", b"0"))


def _unauthorized(authenticated: bool | None) -> Problem:
    detail = "send Authorization: Bearer <api key>" if authenticated is None else "unknown or revoked API key"
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


class ObserveDuration:
    """sla_http_request_duration_seconds by route template, as plain ASGI: Starlette's BaseHTTPMiddleware
    would pass every response through memory streams (most of the API's CPU under load)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            self.metrics.observe(scope["method"], getattr(route, "path", "unmatched"), status, started)


def create_app(
    settings: Settings | None = None,
    temporal: TemporalSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    state = AppState.build(settings or get_settings(), temporal or TemporalSettings(), clock)
    registry, http_metrics = build_registry(state.engine, state.calendars, state.now)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.engine.dispose()

    app = FastAPI(
        title="slatrack API",
        version="1.0.0",
        description="SLA tracking for insurance health services. Errors are application/problem+json; "
        "business-rule errors name the rule and the manual lines it comes from.",
        lifespan=lifespan,
    )
    app.state.slatrack = state
    problems.install(app)
    for router in (requests.router, audit.router, catalog.router, calendar.router, reports.router, health.router):
        app.include_router(router)
    app.include_router(codec.router)  # Temporal's codec server protocol, for the web UI and CLI
    app.include_router(vendors.router)  # vendor webhooks and their delivery log
    app.include_router(admin.router)  # rebuild and verify the read model
    web.app.mount(app)  # the pages people read (web/), on the same state and read side

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_auth.guard(state.settings))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ObserveDuration, metrics=http_metrics)
    app.add_middleware(BodyLimit, read_seconds=state.settings.api_body_read_seconds)
    app.add_middleware(
        Admission,
        state=state,
        limit=state.settings.api_max_in_flight,
        unauthenticated_share=state.settings.api_max_unauthenticated_in_flight,
    )
    return app
