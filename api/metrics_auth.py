"""Who may scrape /metrics. The metrics name insurers, vendors and services and count their breaches:
business information, not for anyone who can reach the port.

- SLA_METRICS_TOKEN (or SLA_METRICS_TOKEN_FILE) set: `Authorization: Bearer <token>` is required and
  compared in constant time; anything else is 401.
- No token, embedded default (`slatrack up` sets SLA_EMBEDDED for the processes it starts, all on
  loopback): served open, with a warning at startup.
- No token anywhere else: every scrape is refused (503, the server is misconfigured) and the startup
  log says so. A forgotten token never means open metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from fastapi import Request

from api.problems import Problem
from runtime.settings import Settings

log = logging.getLogger("slatrack.api")


def _digest(value: str) -> bytes:
    # equal-length inputs for compare_digest, so not even the token's length shows in the timing
    return hashlib.sha256(value.encode()).digest()


def guard(settings: Settings) -> Callable[[Request], None]:
    """A FastAPI dependency for /metrics, decided once at startup from the settings."""
    token = settings.metrics_bearer_token()
    if not token and settings.embedded:
        log.warning("SLA_METRICS_TOKEN is not set: /metrics is open (embedded default, loopback only)")

        def open_metrics(request: Request) -> None:
            return None

        return open_metrics
    if not token:
        log.error("SLA_METRICS_TOKEN is not set: /metrics refuses every scrape until it is")

        def refuse(request: Request) -> None:
            raise Problem(503, "Service Unavailable", "/metrics is disabled: the server has no SLA_METRICS_TOKEN")

        return refuse
    expected = _digest(token)

    def require_token(request: Request) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(_digest(presented.strip()), expected):
            raise Problem(
                401,
                "Unauthorized",
                "send Authorization: Bearer <SLA_METRICS_TOKEN>",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )

    return require_token
