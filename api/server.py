"""How the API is served: uvicorn's h11 protocol with explicit limits, answering what it cannot parse
with problem+json like every other error.

uvicorn answers a request h11 refuses (headers past `h11_max_incomplete_event_size`, a malformed
request line) with a bare text/plain 400 and closes at once; with the client's unread bytes still in
the socket the kernel then sends a reset, so the client usually saw "connection reset" and no answer.
Here the status is h11's own hint (431 for headers over the limit), the body is problem+json, and the
connection half-closes and reads what the client still sends for a moment before closing, so the
answer arrives. Everything else is uvicorn's (pinned in pyproject.toml; tests/api/test_hostile.py holds it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

from api.app import MAX_HEADER_BYTES, header_fields_too_large
from api.problems import PROBLEM, Problem

LINGER_SECONDS = 2.0  # how long a refused connection keeps reading before it closes


class ProblemH11Protocol(H11Protocol):
    _lingering: asyncio.TimerHandle | None = None

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this inside its `except h11.RemoteProtocolError`, so the error is the one in flight.
        status = getattr(sys.exc_info()[1], "error_status_hint", 400)
        title = STATUS_PHRASES[status].decode() or "Bad Request"
        problem = header_fields_too_large() if status == 431 else Problem(status, title, f"request: {msg}")
        body = json.dumps(
            {"type": "about:blank", "title": problem.title, "status": problem.status, "detail": problem.detail},
            separators=(",", ":"),
        ).encode()
        headers = [
            (b"content-type", PROBLEM.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status]),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._lingering = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)  # after a refusal the rest is read and dropped

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)


# For every uvicorn.Config / uvicorn.run that serves the API (cli `slatrack api`, harness/live_stack.py).
SERVER_LIMITS: dict[str, Any] = {"http": ProblemH11Protocol, "h11_max_incomplete_event_size": MAX_HEADER_BYTES}
