"""The app factory: nothing is created at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import web.app
from api import metrics_auth, problems
from api.metrics import HttpMetrics, build_registry
from api.problems import Problem
from api.routes import audit, calendar, catalog, codec, health, reports, requests, vendors
from api.state import AppState
from runtime.settings import Settings, TemporalSettings, get_settings

MAX_BODY_BYTES = 1024 * 1024
# The request line and headers together; uvicorn is told the same (api/server.py), since h11 checks it
# only while headers are still arriving.
MAX_HEADER_BYTES = 16 * 1024
BYTE_ORDER_MARK = b"\xef\xbb\xbf"


class BodyLimit:
    """Refuse, before any handler runs: headers over MAX_HEADER_BYTES (431), bodies over MAX_BODY_BYTES,
    declared or streamed (413), and JSON that begins with a byte order mark (422; RFC 8259 8.1 forbids
    sending one, and Python's parser would silently skip it). The body is read whole here, at most
    MAX_BODY_BYTES of it: a 413 raised inside a handler's read used to become FastAPI's bare 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
        size += sum(len(name) + len(value) + 4 for name, value in headers)
        if size > MAX_HEADER_BYTES:
            await header_fields_too_large().response(scope["path"])(scope, receive, send)
            return
        too_large = Problem(413, "Content Too Large", f"body: bodies are limited to {MAX_BODY_BYTES} bytes")
        fields = dict(headers)
        declared = fields.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await too_large.response(scope["path"])(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: the handler will see it
                break
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await too_large.response(scope["path"])(scope, receive, send)
                return
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": bytes(body), "more_body": False}
                break
        if body.startswith(BYTE_ORDER_MARK) and b"json" in fields.get(b"content-type", b"json").lower():
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


def header_fields_too_large() -> Problem:
    return Problem(
        431,
        "Request Header Fields Too Large",
        f"headers: the request line and headers are limited to {MAX_HEADER_BYTES} bytes",
    )


class InFlightLimit:
    """At most `limit` calls in progress; beyond that answer 503 with Retry-After at once instead of
    queueing without bound. Liveness and metrics stay outside the limit, so they keep answering."""

    EXEMPT = ("/healthz", "/readyz", "/metrics")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            busy = Problem(
                503,
                "Service Unavailable",
                f"more than {self.limit} calls in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
            await busy.response(scope["path"])(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


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
    web.app.mount(app)  # the pages people read (web/), on the same state and read side

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_auth.guard(state.settings))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ObserveDuration, metrics=http_metrics)
    app.add_middleware(BodyLimit)
    app.add_middleware(InFlightLimit, limit=state.settings.api_max_in_flight)
    return app
