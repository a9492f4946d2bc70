"""The app factory: nothing is created at import time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics_auth, problems
from api.metrics import build_registry
from api.problems import Problem
from api.routes import audit, calendar, catalog, codec, health, reports, requests, vendors
from api.state import AppState
from runtime.settings import Settings, TemporalSettings, get_settings

MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES with 413, declared or streamed, before any handler runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        too_large = Problem(413, "Content Too Large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await too_large.response(scope["path"])(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise Problem(413, "Content Too Large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
            return message

        await self.app(scope, counting_receive, send)


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

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_auth.guard(state.settings))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        http_metrics.observe(request.method, template, response.status_code, started)
        return response

    app.add_middleware(BodyLimit)
    app.add_middleware(InFlightLimit, limit=state.settings.api_max_in_flight)
    return app
