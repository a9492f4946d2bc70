"""`slatrack up` on busy ports: before it starts anything it names each taken port and the process that
holds it. Real listening sockets, the real command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.servers import free_port
from worker.ports import check_ports, holders, who_holds

SLATRACK = Path(sys.executable).parent / "slatrack"
MY_NAME = Path("/proc/self/comm").read_text().strip()  # python or pytest, as ps shows this process


@contextmanager
def listening(host: str = "127.0.0.1") -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def slatrack_up(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"SLA_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([str(SLATRACK), "up", *flags], capture_output=True, text=True, env=env, timeout=60)


def test_a_busy_api_port_is_named_with_its_holder_and_nothing_starts(tmp_path: Path) -> None:
    temporal, ui, worker_metrics = free_port(), free_port(), free_port()
    with listening() as api:
        result = slatrack_up(
            tmp_path,
            "--api-port",
            str(api),
            "--temporal-port",
            str(temporal),
            "--ui-port",
            str(ui),
            "--worker-metrics-port",
            str(worker_metrics),
        )
        assert result.returncode == 1, result.stdout + result.stderr
        message = result.stderr
        assert f"port {api} (API: --api-port or SLA_API_PORT) is in use by pid {os.getpid()} ({MY_NAME}: " in message
        assert "pytest" in message  # the holder's command line
        assert "pick another, e.g. `slatrack up --api-port " in message
        assert message.rstrip().endswith("nothing was started")
        assert str(temporal) not in message and str(ui) not in message  # the free ones are not complained about
    # nothing was started: no dev server, UI, worker or data directory
    assert not any(port_open(p) for p in (temporal, ui, worker_metrics))
    assert not (tmp_path / "data").exists()
    assert "slatrack is running" not in result.stdout


def test_settings_choose_the_ports_and_every_busy_one_is_reported(tmp_path: Path) -> None:
    with listening("0.0.0.0") as ui, listening() as worker_metrics:  # a wildcard listener blocks loopback too
        env = os.environ | {
            "SLA_DATA_DIR": str(tmp_path / "data"),
            "SLA_UI_PORT": str(ui),
            "SLA_WORKER_METRICS_PORT": str(worker_metrics),
            "SLA_TEMPORAL_PORT": str(free_port()),
            "SLA_API_PORT": str(free_port()),
        }
        result = subprocess.run([str(SLATRACK), "up"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert f"port {ui} (Temporal web UI: --ui-port or SLA_UI_PORT) is in use by pid {os.getpid()}" in result.stderr
    assert f"port {worker_metrics} (worker metrics: --worker-metrics-port or SLA_WORKER_METRICS_PORT)" in result.stderr
    assert not (tmp_path / "data").exists()


def test_one_port_for_two_services_is_refused(tmp_path: Path) -> None:
    shared = free_port()
    result = slatrack_up(
        tmp_path, "--api-port", str(shared), "--worker-metrics-port", str(shared), "--ui-port", str(free_port())
    )
    assert result.returncode == 1
    assert f"port {shared} is given to both API and worker metrics" in result.stderr


def test_the_holder_is_found_through_proc_and_free_ports_pass() -> None:
    with listening() as port:
        (holder,) = holders(port)
        assert holder.pid == os.getpid() and holder.name == MY_NAME
    assert holders(port) == []
    assert check_ports({"API": (free_port(), "--api-port"), "UI": (free_port(), "--ui-port")}) == []


def test_a_holder_it_cannot_see_is_said_so(tmp_path: Path) -> None:
    # an empty /proc view stands for a process of another user or another network namespace
    with listening() as port:
        assert holders(port, proc=tmp_path) == []
        said = who_holds(port, proc=tmp_path)
    assert "cannot identify" in said and f"sudo ss -ltnp 'sport = :{port}'" in said
