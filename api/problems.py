"""Errors as application/problem+json (RFC 9457), mapped once from the domain and from Temporal."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from sla.errors import (
    CustomerWindowError,
    EventNotAllowedError,
    NaiveDatetimeError,
    SlaError,
    UnknownServiceError,
)

PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = "5"
# The problems every route may answer, for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"description": text, "content": {PROBLEM: {}}}
    for code, text in {
        400: "the body cannot be parsed",
        401: "no or bad key",
        403: "role may not",
        404: "not found or not visible",
        409: "not allowed now",
        413: "body over 1 MiB",
        422: "invalid",
        431: "request line and headers over 16 KiB",
        503: "Temporal unreachable or the API overloaded",
    }.items()
}


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        rule: str | None = None,
        source: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.rule, self.source, self.headers = rule, source, headers or {}

    def with_headers(self, headers: dict[str, str]) -> Problem:
        self.headers = {**self.headers, **headers}
        return self

    def response(self, instance: str, **extra: Any) -> JSONResponse:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **extra,
        }
        if self.rule:
            body["rule"] = self.rule
        if self.source:
            body["source"] = self.source
        return JSONResponse(printable(body), status_code=self.status, media_type=PROBLEM, headers=self.headers)


def printable(value: Any) -> Any:
    """A problem body that can always be sent: a field name or message echoing the request may hold a
    lone UTF-16 surrogate, which no UTF-8 encoder takes (it used to turn a 422 into a 500)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def not_found(what: str) -> Problem:
    return Problem(404, "Not Found", f"no {what} here (or not visible to this key)")


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


def unavailable(detail: str = "Temporal is unreachable; nothing was written, retry later") -> Problem:
    return Problem(503, "Service Unavailable", detail, headers={"Retry-After": RETRY_AFTER_SECONDS})


def from_domain(error: SlaError) -> Problem:
    """A business rule broken: 409 when the event is valid but not allowed now, 404 for an unknown
    service id, 422 for anything malformed."""
    if isinstance(error, EventNotAllowedError | CustomerWindowError):
        status, title = 409, "Conflict"
    elif isinstance(error, UnknownServiceError):
        status, title = 422, "Unknown Service"
    elif isinstance(error, NaiveDatetimeError):
        status, title = 422, "Timezone Required"
    else:
        status, title = 422, "Unprocessable Content"
    return Problem(status, title, error.message, rule=error.rule, source=error.source)


STATUS_BY_ERROR_TYPE = {
    "EventNotAllowedError": 409,
    "CustomerWindowError": 409,
    "UnknownEventError": 422,
    "EventNotAcceptedError": 422,
    "FutureEventError": 422,
    "EventBeforeOpeningError": 422,
    "ReviewDecisionError": 409,
    "NaiveDatetimeError": 422,
    "EventDataError": 422,
}


def from_application_error(error_type: str | None, message: str, details: dict[str, Any] | None) -> Problem:
    status = STATUS_BY_ERROR_TYPE.get(error_type or "", 422)
    info = details or {}
    return Problem(
        status,
        "Conflict" if status == 409 else "Unprocessable Content",
        info.get("message") or message,
        rule=info.get("rule"),
        source=info.get("source"),
    )


def is_unreachable(error: RPCError) -> bool:
    return error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(SlaError)
    async def _domain(request: Request, exc: SlaError) -> JSONResponse:
        return from_domain(exc).response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        problem = Problem(422, "Unprocessable Content", detail or "invalid request")
        return problem.response(request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = TITLES.get(exc.status_code, "Error")
        headers = dict(exc.headers or {})
        problem = Problem(exc.status_code, title, str(exc.detail), headers=headers)
        if exc.status_code == 400:  # FastAPI could not parse the body (e.g. JSON nested past the parser's depth)
            problem.detail = f"body: {exc.detail}"
            return problem.response(request.url.path, errors=[{"loc": ["body"], "msg": problem.detail, "type": "body"}])
        return problem.response(request.url.path)

    @app.exception_handler(SQLAlchemyTimeout)
    async def _pool(request: Request, exc: SQLAlchemyTimeout) -> JSONResponse:
        return Problem(
            503, "Service Unavailable", "the database is busy; retry shortly", headers={"Retry-After": "1"}
        ).response(request.url.path)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        return Problem(
            503,
            "Service Unavailable",
            "the read-model database is unavailable; retry shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ).response(request.url.path)

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> JSONResponse:
        if is_unreachable(exc):
            return unavailable().response(request.url.path)
        return Problem(502, "Bad Gateway", "the workflow service refused the call").response(request.url.path)
