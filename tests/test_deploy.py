"""Operations: Prometheus config and rules (promtool), the compose file (docker-compose v1), and a
real Prometheus scraping the live stack, fed by the simulator, answering every dashboard panel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.traffic import simulate
from sla.calendar.sources import default_calendar
from sla.catalog.loader import default_catalog
from tests.live_stack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
COMPOSE_SECRETS = {
    "POSTGRES_PASSWORD": "p",
    "SLATRACK_DB_PASSWORD": "s",
    "TEMPORAL_DB_PASSWORD": "t",
    "SLA_PAYLOAD_KEYS": "k1:x",
    "GRAFANA_ADMIN_PASSWORD": "g",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make test` installs Debian's prometheus and docker-compose packages")
    return path


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_prometheus_config_and_rules_are_valid() -> None:
    config = run(tool("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = run(tool("promtool"), "check", "rules", *map(str, sorted((PROMETHEUS / "rules").glob("*.yml"))))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    result = run(tool("promtool"), "test", "rules", *map(str, sorted((PROMETHEUS / "tests").glob("*.test.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_is_valid_and_has_no_default_secrets() -> None:
    compose = tool("docker-compose")
    valid = run(compose, "config", "-q", env=os.environ | COMPOSE_SECRETS)
    assert valid.returncode == 0, valid.stderr
    for missing in COMPOSE_SECRETS:
        env = {k: v for k, v in (os.environ | COMPOSE_SECRETS).items() if k != missing}
        refused = run(compose, "config", "-q", env=env)
        assert refused.returncode != 0 and missing in refused.stderr, f"{missing} has a default"
    rendered = run(compose, "config", env=os.environ | COMPOSE_SECRETS).stdout
    for service in ("postgres", "temporal", "temporal-ui", "api", "worker", "prometheus", "grafana"):
        assert re.search(rf"^  {re.escape(service)}:$", rendered, re.M), service
    assert rendered.count("healthcheck:") >= 5


def panel_queries(vendor: str) -> list[tuple[str, str, str]]:
    queries = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                queries.append((path.stem, panel["title"], target["expr"].replace("$vendor", vendor)))
    return queries


def test_every_dashboard_panel_has_a_query_and_the_datasource_is_provisioned() -> None:
    assert {p.stem for p in DASHBOARDS} == {"sla-overview", "sla-vendor", "calendar-health", "worker-health"}
    assert all(expr.strip() for _, _, expr in panel_queries("v"))
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "uid: prometheus" in datasource


@pytest.fixture
def prometheus(live: Any, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    api = live.base_url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((PROMETHEUS / "rules").glob("*.yml"))],
        "scrape_configs": [
            {"job_name": "slatrack-api", "static_configs": [{"targets": [api]}]},
            {"job_name": "slatrack-worker", "static_configs": [{"targets": [live.worker_metrics]}]},
        ],
    }
    (tmp_path / "prometheus.yml").write_text(json.dumps(config))
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    body = json.loads(urllib.request.urlopen(url, timeout=10).read())
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def test_with_simulated_traffic_every_metric_family_and_every_panel_has_data(live: Any, prometheus: str) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=live.headers("admin"), timeout=60) as client:
        # Two waves, as traffic arrives in life: the second grows counters Prometheus has already seen.
        for seed in (11, 12):
            tally = await simulate(client, default_catalog(), default_calendar(), requests=40, days=30, seed=seed)
            assert tally.errors == [] and tally.opened == 40
            await asyncio.sleep(3)

    metrics = httpx.get(f"{live.base_url}/metrics").text
    for family in (
        "sla_clock_outcomes_total",
        "sla_clocks_open",
        "sla_clock_working_days_used_bucket",
        "sla_requests_open",
        "sla_calendar_provisional_clocks",
        "sla_http_request_duration_seconds_bucket",
    ):
        assert re.search(rf"^{family}(\{{.*\}})? \d", metrics, re.M), f"{family} has no sample"
    for state in ("running", "breached"):
        assert f'state="{state}"' in metrics
    # bounded labels: no request ids, no personal data, no policy numbers
    labels = "\n".join(re.findall(r"\{([^}]*)\}", metrics))
    for forbidden in (r"[0-9a-f]{32}", r"SIM\d{9}", "模拟客户", r"SIM-\d{6}", r"\d{17}[\dXx]"):
        assert not re.search(forbidden, labels), forbidden
    assert len([line for line in metrics.splitlines() if line.startswith("sla_")]) < 10_000

    empty: list[str] = []
    for _ in range(40):  # scrapes every second; rules need two samples before increase() answers
        await asyncio.sleep(1)
        empty = [
            f"{board} / {title}: {expr}"
            for board, title, expr in panel_queries("vendor-late")
            if not query(prometheus, expr)
        ]
        if not empty:
            break
    assert empty == [], "panels without data:\n" + "\n".join(empty)
