"""The processes a bench measures, each on its own so its CPU can be read from /proc: the Temporal
dev server (SQLite, WAL + synchronous=full as `make run`), the real worker (`python -m worker`), the
API (uvicorn on `api.app:create_app`) and the bare worker (bench/bare.py)."""

from __future__ import annotations

import asyncio
import compileall
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session
from temporalio.client import Client

from harness.keys import TEST_KEYS, TEST_KEYS_SETTING
from harness.live_stack import DevServer
from harness.servers import free_port, wait_for_port
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import connect
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from store.models import VendorRow

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
VENDOR = "vendor-reliable"
METRICS_TOKEN = "bench-metrics-token"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Bench:
    """A temporal dev server and a read model; start workers and an API on them as needed."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="slatrack-bench-")))
    database_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    temporal: DevServer | None = None
    api_url: str = ""
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def cached_workflows(self) -> int:
        """The real worker's cache (its settings, from this environment); the bare worker gets the same,
        since a workflow evicted before its timer fires is replayed at it."""
        return Settings().max_cached_workflows

    @property
    def stamps(self) -> Path:
        """Where the bare worker appends the instant each bare timer resumed (bench/bare.py)."""
        return self.directory / "bare-stamps.txt"

    def __post_init__(self) -> None:
        # As `make bytecode` and the image do: without fresh bytecode the workflow sandbox compiles the
        # modules it re-imports for every new workflow instance, a cost no deployment pays.
        for package in ("sla", "workflows"):
            compileall.compile_dir(ROOT / package, quiet=1)

    def start_temporal(self) -> str:
        self.temporal = DevServer(self.directory)
        self.temporal.start()
        return self.temporal.address

    def prepare_database(self, url: str | None = None) -> None:
        self.database_url = url or f"sqlite:///{self.directory / 'read-model.db'}"
        engine = make_engine(self.database_url)
        init_schema(engine)
        with Session(engine) as session:
            session.merge(VendorRow(id=VENDOR, name="Reliable (bench)"))
            session.commit()
        self.keys = {
            "coordinator": create_key(engine, Role.COORDINATOR, vendor_id=VENDOR, label="bench"),
            "operations": create_key(engine, Role.OPERATIONS, label="bench"),
        }
        engine.dispose()

    def environment(self, task_queue: str) -> dict[str, str]:
        assert self.temporal is not None
        return os.environ | {
            "TEMPORAL_ADDRESS": self.temporal.address,
            "SLA_DATABASE_URL": self.database_url,
            "SLA_PAYLOAD_KEYS": TEST_KEYS_SETTING,
            "SLA_TASK_QUEUE": task_queue,
            "SLA_CALENDAR_DIR": str(self.directory),
            "SLA_WORKER_METRICS_BIND": f"127.0.0.1:{free_port()}",
            "SLA_METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONPATH": str(ROOT),
        }

    def _start(self, name: str, command: list[str], task_queue: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.environment(task_queue), stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def start_worker(self, task_queue: str, name: str = "worker") -> subprocess.Popen[bytes]:
        return self._start(name, [sys.executable, "-m", "worker"], task_queue)

    def start_bare_worker(self, task_queue: str, name: str = "bare-worker") -> subprocess.Popen[bytes]:
        assert self.temporal is not None
        command = [sys.executable, "-m", "bench.bare", "--address", self.temporal.address, "--task-queue", task_queue]
        command += ["--max-cached-workflows", str(self.cached_workflows), "--stamps", str(self.stamps)]
        return self._start(name, command, task_queue)

    def start_api(self, task_queue: str) -> str:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        self._start("api", command, task_queue)
        wait_for_port(port)
        self.api_url = f"http://127.0.0.1:{port}"
        return self.api_url

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the server and every process started."""
        assert self.temporal is not None and self.temporal.process is not None
        found = {"temporal": cpu_seconds(self.temporal.process.pid)}
        for name, process in self.processes.items():
            if process.poll() is None:
                found[name] = cpu_seconds(process.pid)
        return found

    def stop(self, *names: str) -> None:
        for name in names or list(self.processes):
            process = self.processes.pop(name, None)
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()

    def close(self) -> None:
        self.stop()
        if self.temporal is not None:
            self.temporal.stop()


async def side_by_side(bench: Bench) -> tuple[Client, Client]:
    """Temporal, the database, the bare worker and ours with the API, all started; a plain client for
    the bare worker and ours (payload codec) once the workers are polling."""
    address = bench.start_temporal()
    bench.prepare_database()
    bench.start_bare_worker("bench-bare")
    bench.start_worker("bench-ours")
    bench.start_api("bench-ours")
    plain = await Client.connect(address)
    ours = await connect(TemporalSettings(address=address), keys=TEST_KEYS)
    await asyncio.sleep(3)  # workers polling
    return plain, ours
