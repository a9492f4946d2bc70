"""Operations: Prometheus config and rules (promtool), Alertmanager's config and where every alert goes
(amtool), the compose file (docker-compose v1), and a real Prometheus scraping the live stack with the
metrics token, fed by the simulator, answering every dashboard panel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.calendar_files import default_calendar
from adapters.catalog_files import default_catalog
from api.app import create_app
from harness.servers import free_port, wait_for_port
from harness.serving import serving
from runtime.settings import TemporalSettings
from simulator.traffic import simulate

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER = ROOT / "deploy" / "alertmanager"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
COMPOSE_SECRETS = {
    "POSTGRES_PASSWORD": "p",
    "SLATRACK_DB_PASSWORD": "s",
    "TEMPORAL_DB_PASSWORD": "t",
    "SLA_PAYLOAD_KEYS": "k1:x",
    "GRAFANA_ADMIN_PASSWORD": "g",
    "METRICS_TOKEN_FILE": "/run/operator/metrics_token",
    "ALERT_PAGE_WEBHOOK_URL": "https://pager.example/hook",
    "ALERT_TICKET_WEBHOOK_URL": "https://tickets.example/hook",
    "ALERT_CHAT_WEBHOOK_URL": "https://chat.example/hook",
    "ALERT_VENDOR_WEBHOOK_URL": "https://vendors.example/hook",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is missing: `make test` installs Debian's prometheus, prometheus-alertmanager and "
            "docker-compose packages"
        )
    return path


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_prometheus_config_and_rules_are_valid(tmp_path: Path) -> None:
    committed = PROMETHEUS / "prometheus.yml"
    syntax = run(tool("promtool"), "check", "config", "--syntax-only", str(committed))
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    # The full check also opens every file the config names: the token file is the compose secret, so
    # check a copy that names one here, next to the real rules.
    config = yaml.safe_load(committed.read_text())
    (api_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "slatrack-api"]
    assert api_job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    (tmp_path / "metrics_token").write_text("t")
    api_job["authorization"]["credentials_file"] = str(tmp_path / "metrics_token")
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    full = run(tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml"))
    assert full.returncode == 0, full.stdout + full.stderr
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
    services = ("postgres", "temporal", "temporal-ui", "api", "worker", "prometheus", "alertmanager", "grafana")
    for service in services:
        assert re.search(rf"^  {re.escape(service)}:$", rendered, re.M), service
    assert rendered.count("healthcheck:") >= 6
    compose = yaml.safe_load(rendered)
    # the metrics token: one secret file, checked by the API, sent by Prometheus
    assert compose["secrets"]["metrics_token"]["file"] == COMPOSE_SECRETS["METRICS_TOKEN_FILE"]
    for service in ("api", "prometheus"):
        assert [s["source"] for s in compose["services"][service]["secrets"]] == ["metrics_token"]
    assert compose["services"]["api"]["environment"]["SLA_METRICS_TOKEN_FILE"] == "/run/secrets/metrics_token"
    assert "alertmanager" in compose["services"]["prometheus"]["depends_on"]
    ui = compose["services"]["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec") and ui["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    assert compose["services"]["api"]["environment"]["SLA_CODEC_CORS_ORIGINS"] == "http://localhost:8233"


def test_admin_surfaces_without_a_sign_in_listen_on_loopback_and_temporal_runs_the_server_image_after_its_schema() -> (
    None
):
    rendered = run(tool("docker-compose"), "config", env=os.environ | COMPOSE_SECRETS)
    assert rendered.returncode == 0, rendered.stderr
    services = yaml.safe_load(rendered.stdout)["services"]

    def published(service: str) -> list[str]:
        """Each published port as host_ip:published (docker-compose v1 renders short and long forms)."""
        found = []
        for port in services[service].get("ports", []):
            if isinstance(port, str):
                host, _, rest = port.rpartition(":")[0].rpartition(":")
                found.append(f"{host or '0.0.0.0'}:{rest}")
            else:
                found.append(f"{port.get('host_ip', '0.0.0.0')}:{port['published']}")
        return found

    # the Temporal UI (terminate, reset), Prometheus (the breach series), Alertmanager (silences)
    assert published("temporal-ui") == ["127.0.0.1:8233"]
    assert published("prometheus") == ["127.0.0.1:9090"]
    assert published("alertmanager") == ["127.0.0.1:9093"]
    assert services["temporal-ui"]["environment"]["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    # everything else published has a sign-in of its own, or is not published at all
    signed_in = {"api": ["0.0.0.0:8000"], "grafana": ["0.0.0.0:3000"]}  # API keys, Grafana's admin password
    for service in set(services) - {"temporal-ui", "prometheus", "alertmanager"}:
        assert published(service) == signed_in.get(service, []), service
    # off the deprecated auto-setup image: the server image, after a schema step and before a namespace step
    images = {name: service.get("image", "") for name, service in services.items()}
    assert not any("auto-setup" in image for image in images.values()), images
    assert images["temporal"].startswith("temporalio/server:")
    version = images["temporal"].split(":")[1]
    for step in ("temporal-schema", "temporal-namespace"):
        assert images[step].startswith(f"temporalio/admin-tools:{version}"), images[step]
        assert services[step]["restart"] == "no"
        script = services[step]["entrypoint"][-1].removeprefix("/etc/temporal-setup/")
        assert (ROOT / "deploy" / "temporal" / script).is_file()
        assert run("sh", "-n", str(ROOT / "deploy" / "temporal" / script)).returncode == 0
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert services["temporal-namespace"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    for service in ("migrate", "api", "worker"):
        assert services[service]["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
    schema = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    for database in ("temporal", "temporal_visibility"):
        assert f"--db {database} update-schema" in schema


def alert_rules() -> dict[str, dict[str, str]]:
    """Every alert of deploy/prometheus/rules with its static labels."""
    alerts = {}
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts[rule["alert"]] = rule.get("labels", {})
    return alerts


VENDOR = {"vendor": "vendor-late", "service": "axa.green_channel.inpatient"}
# Each real alert with the labels its expression yields (as in the promtool rule tests), and where it goes.
ROUTES: dict[str, tuple[dict[str, str], set[str]]] = {
    "SlaVendorComplianceBurningFast": ({"insurer": "axa_tianping"} | VENDOR, {"operations-pager", "vendor-management"}),
    "SlaVendorComplianceBurningSlow": ({"insurer": "axa_tianping"} | VENDOR, {"operations-pager", "vendor-management"}),
    "SlaVendorComplianceBelowTarget": (
        {"insurer": "axa_tianping"} | VENDOR,
        {"operations-tickets", "vendor-management"},
    ),
    "SlaClocksAtRisk": (VENDOR, {"operations-chat", "vendor-management"}),
    "SlaBreachesInLastHour": (VENDOR, {"operations-chat", "vendor-management"}),
    "SlaProvisionalDeadlines": ({"job": "slatrack-api", "instance": "api:8000"}, {"operations-tickets"}),
    "SlaProvisionalDeadlinesInDecember": ({"job": "slatrack-api", "instance": "api:8000"}, {"operations-pager"}),
    "SlaNextYearCalendarMissing": ({"job": "slatrack-api", "instance": "api:8000"}, {"operations-tickets"}),
    "TemporalNonDeterminism": ({"workflow_type": "ServiceRequestWorkflow"}, {"operations-pager"}),
    "TemporalWorkflowTaskFailures": ({"failure_reason": "WorkflowError"}, {"operations-tickets"}),
    "SlaWorkerDown": ({"job": "slatrack-worker", "instance": "worker-1:9464"}, {"operations-pager"}),
    "SlaApiDown": ({"job": "slatrack-api", "instance": "api:8000"}, {"operations-pager"}),
    "TemporalWorkflowTasksWaiting": ({}, {"operations-tickets"}),
}


def test_alertmanager_config_is_valid() -> None:
    checked = run(tool("amtool"), "check-config", str(ALERTMANAGER / "alertmanager.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "4 receivers" in checked.stdout and "4 inhibit rules" in checked.stdout


def test_every_alert_goes_to_the_receivers_its_severity_and_vendor_call_for() -> None:
    alerts = alert_rules()
    assert set(ROUTES) == set(alerts), "an alert without a routing decision, or a decision for no alert"
    wrong = []
    for name, (labels, expected) in ROUTES.items():
        pairs = [f"{k}={v}" for k, v in ({"alertname": name} | alerts[name] | labels).items()]
        result = run(
            tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER / 'alertmanager.yml'}", *pairs
        )
        assert result.returncode == 0, result.stderr
        receivers = set(result.stdout.strip().split(","))
        if receivers != expected:
            wrong.append(f"{name}: {sorted(receivers)}, expected {sorted(expected)}")
    assert wrong == []
    # pages repeat hourly; the provisional-deadline ticket is one a day
    tree = yaml.safe_load((ALERTMANAGER / "alertmanager.yml").read_text())["route"]["routes"]
    (pages,) = [r for r in tree if r["matchers"] == ['severity="page"']]
    assert pages["repeat_interval"] == "1h"
    (calendar,) = [r for r in tree if "SlaProvisionalDeadlines" in r["matchers"][0]]
    assert calendar["receiver"] == "operations-tickets"
    assert calendar["group_interval"] == calendar["repeat_interval"] == "24h"


def test_alertmanager_entrypoint_fills_in_the_webhook_urls_from_the_environment(tmp_path: Path) -> None:
    urls = {
        "ALERT_PAGE_WEBHOOK_URL": "https://pager.example/v2/enqueue?routing_key=a1&x=|y|",
        "ALERT_TICKET_WEBHOOK_URL": "https://tickets.example/hook",
        "ALERT_CHAT_WEBHOOK_URL": "https://qyapi.example/cgi-bin/webhook/send?key=k\\1",
        "ALERT_VENDOR_WEBHOOK_URL": "http://relay.internal:9000/vendor",
    }
    rendered = tmp_path / "alertmanager.yml"
    env = {
        "PATH": os.environ["PATH"],
        "ALERTMANAGER_TEMPLATE": str(ALERTMANAGER / "alertmanager.yml"),
        "ALERTMANAGER_CONFIG": str(rendered),
    }
    done = run("sh", str(ALERTMANAGER / "run.sh"), "--render-only", env=env | urls)
    assert done.returncode == 0, done.stderr
    receivers = {r["name"]: r["webhook_configs"][0]["url"] for r in yaml.safe_load(rendered.read_text())["receivers"]}
    assert receivers == {
        "operations-pager": urls["ALERT_PAGE_WEBHOOK_URL"],
        "operations-tickets": urls["ALERT_TICKET_WEBHOOK_URL"],
        "operations-chat": urls["ALERT_CHAT_WEBHOOK_URL"],
        "vendor-management": urls["ALERT_VENDOR_WEBHOOK_URL"],
    }
    checked = run(tool("amtool"), "check-config", str(rendered))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    unset = run("sh", str(ALERTMANAGER / "run.sh"), "--render-only", env=env | urls | {"ALERT_CHAT_WEBHOOK_URL": ""})
    assert unset.returncode != 0 and "ALERT_CHAT_WEBHOOK_URL" in unset.stderr


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
def metrics_api(live: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The live read model behind an API configured as in production: /metrics wants the token file's token."""
    token_file = tmp_path / "metrics_token"
    token_file.write_text(secrets.token_hex(32) + "\n")
    settings = live.settings.model_copy(update={"metrics_token": "", "metrics_token_file": token_file})
    with serving(create_app(settings, TemporalSettings(address=live.temporal.address))) as url:
        yield url, token_file


@pytest.fixture
def prometheus(live: Any, metrics_api: tuple[str, Path], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    api_url, token_file = metrics_api
    # the committed scrape job's authorization, with the token file where this test keeps it
    committed = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (api_job,) = [job for job in committed["scrape_configs"] if job["job_name"] == "slatrack-api"]
    authorization = api_job["authorization"] | {"credentials_file": str(token_file)}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in sorted((PROMETHEUS / "rules").glob("*.yml"))],
        "scrape_configs": [
            {
                "job_name": "slatrack-api",
                "authorization": authorization,
                "static_configs": [{"targets": [api_url.removeprefix("http://")]}],
            },
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


async def test_with_simulated_traffic_every_metric_family_and_every_panel_has_data(
    live: Any, metrics_api: tuple[str, Path], prometheus: str
) -> None:
    async with httpx.AsyncClient(base_url=live.base_url, headers=live.headers("admin"), timeout=60) as client:
        # Two waves, as traffic arrives in life: the second grows counters Prometheus has already seen.
        for seed in (11, 12):
            tally = await simulate(client, default_catalog(), default_calendar(), requests=40, days=30, seed=seed)
            assert tally.errors == [] and tally.opened == 40
            await asyncio.sleep(3)

    api_url, token_file = metrics_api
    assert httpx.get(f"{api_url}/metrics").status_code == 401
    metrics = httpx.get(
        f"{api_url}/metrics", headers={"Authorization": f"Bearer {token_file.read_text().strip()}"}
    ).text
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
    # Prometheus got in with the token from its credentials_file
    assert [r["value"][1] for r in query(prometheus, 'up{job="slatrack-api"}')] == ["1"]
