"""/metrics behind SLA_METRICS_TOKEN, over real HTTP (uvicorn on a free port): the right bearer token
scrapes, anything else is 401; without a token it is open only in the embedded default (with a
warning at startup) and refused everywhere else."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings

TOKEN = "metrics-token-for-tests-0123456789"


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    with serving(create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"))) as url:
        yield url  # /metrics needs no Temporal


def scrape(url: str, authorization: str | None = None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return httpx.get(f"{url}/metrics", headers=headers, timeout=10)


def test_with_a_token_only_the_right_bearer_token_scrapes(settings: Settings, engine: Engine) -> None:
    with serve(settings.model_copy(update={"metrics_token": TOKEN})) as url:
        missing = scrape(url)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.headers["content-type"] == "application/problem+json"
        assert "sla_requests_open" not in missing.text
        for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer", f"Basic {TOKEN}", TOKEN):
            assert scrape(url, wrong).status_code == 401, wrong
        right = scrape(url, f"Bearer {TOKEN}")
        assert right.status_code == 200
        assert "sla_calendar_provisional_clocks" in right.text
        assert scrape(url, f"bearer {TOKEN}").status_code == 200  # the scheme is case-insensitive (RFC 9110)
        assert httpx.get(f"{url}/healthz").status_code == 200  # nothing else changes


def test_the_token_may_come_from_a_file_as_compose_mounts_it(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    secret = tmp_path / "metrics_token"
    secret.write_text(f"{TOKEN}\n")  # as `echo token > file` writes it
    with serve(settings.model_copy(update={"metrics_token_file": secret})) as url:
        assert scrape(url).status_code == 401
        assert scrape(url, f"Bearer {TOKEN}").status_code == 200


def test_without_a_token_the_embedded_default_serves_metrics_open_with_a_warning(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="slatrack.api")
    with serve(settings.model_copy(update={"embedded": True})) as url:
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "SLA_METRICS_TOKEN" in r.message]
        assert len(warnings) == 1 and "open" in warnings[0].message
        opened = scrape(url)
        assert opened.status_code == 200 and "sla_calendar_provisional_clocks" in opened.text


def test_without_a_token_anywhere_else_metrics_are_refused_not_served_open(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="slatrack.api")
    assert settings.embedded is False and settings.metrics_token == ""
    with serve(settings) as url:
        assert any(r.levelno == logging.ERROR and "SLA_METRICS_TOKEN" in r.message for r in caplog.records)
        for authorization in (None, "Bearer", "Bearer anything"):
            refused = scrape(url, authorization)
            assert refused.status_code == 503
            assert "SLA_METRICS_TOKEN" in refused.json()["detail"]
            assert "sla_" not in refused.text
