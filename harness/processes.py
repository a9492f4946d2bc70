"""The stack as separate processes we can SIGKILL and start again: a Temporal dev server on a SQLite
file, `python -m worker`, the API under uvicorn (`slatrack api`), and the read-model database
(a SQLite file, or a PostgreSQL server of our own that can be stopped and started).

Every process here is one this module started, and it is only ever signalled by its own pid.
Output goes to log files (never to a pipe nobody reads, which would block the child when full);
`Child.log_tail` quotes them when something does not come up.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from harness.keys import TEST_KEYS, TEST_KEYS_SETTING
from harness.live_stack import VENDORS
from harness.postgres import PostgresServer
from harness.servers import dev_server_command, free_port, wait_for_port
from runtime.settings import TemporalSettings
from runtime.temporal import connect
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from store.models import VendorRow

ROOT = Path(__file__).resolve().parents[1]  # the repository
METRICS_TOKEN = "fault-suite-metrics-token"
READY_TIMEOUT = 60.0


_HANDED_OUT: set[int] = set()


def stable_port() -> int:
    """A free loopback port below the kernel's ephemeral range, for a server that is stopped and started
    again on it: while it is down, no outgoing connection on the machine can take it as its local port."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    ports = [p for p in range(max(1024, low - 12000), low) if p not in _HANDED_OUT]
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise AssertionError(f"no free port below {low}")


def wait_until_ok(url: str, child: Child, timeout: float = READY_TIMEOUT) -> None:
    """Until `url` answers 200; fails at once, quoting its log, if the child exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive:
            raise AssertionError(f"{child.name} exited with {child.returncode} while starting:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{child.name}: {url} did not answer 200 within {timeout:.0f} s:\n{child.log_tail()}")


@dataclass
class Child:
    """One child process: started, SIGKILLed or stopped by its pid, started again; its output in a log."""

    name: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def wait_ready(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        assert not self.alive, f"{self.name} is already running (pid {self.pid})"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n--- start {self.starts} at {time.strftime('%H:%M:%S')} ---\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.environment(), stdout=out, stderr=subprocess.STDOUT
            )
        self.wait_ready()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed, nothing finished."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait (a clean stop); SIGKILL if it is still there after `timeout`."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class TemporalChild(Child):
    """`temporal server start-dev` on a SQLite file, on fixed ports: a restart is the same server."""

    db_file: Path = Path()
    port: int = field(default_factory=stable_port)
    http_port: int = field(default_factory=stable_port)
    metrics_port: int = field(default_factory=stable_port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return dev_server_command(self.port, self.http_port, self.metrics_port, self.db_file)

    def wait_ready(self) -> None:
        wait_for_port(self.port, READY_TIMEOUT)
        wait_until_ok(f"http://127.0.0.1:{self.metrics_port}/metrics", self)


@dataclass
class SlatrackChild(Child):
    """A slatrack process configured the production way: only through the environment."""

    settings: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLA_", "TEMPORAL_"))}
        return inherited | self.settings


@dataclass
class WorkerChild(SlatrackChild):
    """`python -m worker`; ready once its SDK metrics endpoint answers (a new port for every start)."""

    metrics: str = ""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "worker"]

    def start(self) -> None:
        self.metrics = f"127.0.0.1:{free_port()}"
        self.settings = self.settings | {"SLA_WORKER_METRICS_BIND": self.metrics}
        super().start()

    def wait_ready(self) -> None:
        wait_until_ok(f"http://{self.metrics}/metrics", self)


@dataclass
class ApiChild(SlatrackChild):
    """`slatrack api` (uvicorn on api.app:create_app) on one fixed port: clients keep their base URL."""

    port: int = field(default_factory=stable_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "slatrack"), "api", "--host", "127.0.0.1", "--port", str(self.port)]

    def wait_ready(self) -> None:
        wait_until_ok(f"{self.base_url}/healthz", self)


class SqliteWriteLock:
    """The read-model SQLite file made unavailable to writers: a separate connection holding
    BEGIN EXCLUSIVE. (In WAL mode readers still read: EXCLUSIVE is IMMEDIATE there, and no connection
    can take the whole file while the API and the worker hold theirs open.)"""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection: sqlite3.Connection | None = None

    def acquire(self) -> None:
        self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=10, check_same_thread=False)
        self.connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


@dataclass
class ProcessStack:
    """Temporal dev server, worker and API as separate processes, on SQLite or on a PostgreSQL server
    of its own (stopping it must not disturb the session's shared server)."""

    directory: Path
    backend: str  # sqlite | postgresql
    temporal: TemporalChild
    worker: WorkerChild
    api: ApiChild
    engine: Engine
    database_url: str
    postgres: PostgresServer | None
    task_queue: str
    keys: dict[str, str]
    _client: Client | None = None

    @classmethod
    def start(cls, directory: Path, backend: str) -> ProcessStack:
        directory.mkdir(parents=True, exist_ok=True)
        postgres = None
        if backend == "postgresql":
            postgres = PostgresServer(port=stable_port())
            postgres.init()
            postgres.start()
            database_url = postgres.new_database("faults")
        else:
            database_url = f"sqlite:///{directory / 'read-model.db'}"
        engine = make_engine(database_url)
        init_schema(engine)
        with Session(engine) as session:
            for vendor_id, name in VENDORS.items():
                session.add(VendorRow(id=vendor_id, name=name))
            session.commit()
        keys = {"coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-reliable", label="faults")}
        calendars = directory / "calendars"
        calendars.mkdir(exist_ok=True)
        temporal = TemporalChild("temporal dev server", directory / "temporal.log", db_file=directory / "temporal.db")
        task_queue = f"faults-{backend}"
        settings = {
            "SLA_DATABASE_URL": database_url,
            "SLA_PAYLOAD_KEYS": TEST_KEYS_SETTING,
            "SLA_TASK_QUEUE": task_queue,
            "SLA_CALENDAR_DIR": str(calendars),
            "SLA_METRICS_TOKEN": METRICS_TOKEN,
            "TEMPORAL_ADDRESS": temporal.address,
        }
        worker = WorkerChild("worker", directory / "worker.log", settings=settings)
        api = ApiChild("api", directory / "api.log", settings=settings)
        stack = cls(directory, backend, temporal, worker, api, engine, database_url, postgres, task_queue, keys)
        try:
            temporal.start()
            worker.start()
            api.start()
        except BaseException:
            stack.stop()
            raise
        return stack

    @property
    def sqlite_path(self) -> Path:
        assert self.backend == "sqlite"
        return Path(self.database_url.removeprefix("sqlite:///"))

    def headers(self, role: str = "coordinator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    async def client(self) -> Client:
        """The test's own Temporal client (for queries and listing), connected again after a restart."""
        if self._client is None:
            self._client = await connect(TemporalSettings(address=self.temporal.address), keys=TEST_KEYS)
        return self._client

    def forget_client(self) -> None:
        self._client = None

    def stop(self) -> None:
        for child in (self.api, self.worker, self.temporal):
            child.stop(timeout=20)
        self.engine.dispose()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres.remove()
