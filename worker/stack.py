"""The embedded default, one command: Temporal dev server (SQLite under .data/), worker, API.

Ctrl-C (or SIGTERM) stops everything cleanly; a second run keeps the data. Not for production:
the dev server is a single process on SQLite (see README, Production). Every process it starts gets
SLA_EMBEDDED=true: that is how the API knows it is the embedded default (loopback only), where
/metrics may go without a token. Its ports come from flags or SLA_*_PORT; a busy port stops it before
it starts anything, naming the process that holds the port.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from worker.ports import check_ports

ROOT = Path(__file__).resolve().parents[1]
console = Console()


@dataclass
class Stack:
    temporal_port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000
    worker_metrics_port: int = 9464
    data: Path = ROOT / ".data"
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def ports(self) -> dict[str, tuple[int, str]]:
        return {
            "Temporal gRPC": (self.temporal_port, "--temporal-port"),
            "Temporal web UI": (self.ui_port, "--ui-port"),
            "API": (self.api_port, "--api-port"),
            "worker metrics": (self.worker_metrics_port, "--worker-metrics-port"),
        }

    @property
    def codec_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/codec"

    def temporal_command(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            # the UI sends payloads to the API's codec server, which decodes them for signed-in auditors
            "--ui-codec-endpoint",
            self.codec_endpoint,
            "--db-filename",
            str(self.data / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=full",
            "--log-level",
            "warn",
        ]

    def payload_keys(self) -> str:
        """A local AES key for the embedded default, created once; production sets SLA_PAYLOAD_KEYS."""
        return self._local_secret("SLA_PAYLOAD_KEYS", "payload.key", prefix="local1:")

    def blind_index_key(self) -> str:
        """The quota ledger's blind-index key for the embedded default, created once (like the payload
        key); production sets SLA_BLIND_INDEX_KEY and keeps it for as long as policy years run."""
        return self._local_secret("SLA_BLIND_INDEX_KEY", "blind-index.key")

    def _local_secret(self, setting: str, filename: str, prefix: str = "") -> str:
        """The setting when given, else 32 random bytes kept under .data/ (owner-only) from the first run."""
        if os.environ.get(setting):
            return os.environ[setting]
        path = self.data / filename
        if not path.exists():
            path.write_text(f"{prefix}{base64.b64encode(os.urandom(32)).decode()}\n")
            path.chmod(0o600)
        return path.read_text().strip()

    def environment(self) -> dict[str, str]:
        ui_origins = f"http://127.0.0.1:{self.ui_port},http://localhost:{self.ui_port}"
        return os.environ | {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
            "SLA_DATABASE_URL": os.environ.get("SLA_DATABASE_URL", f"sqlite:///{self.data / 'slatrack.db'}"),
            "SLA_PAYLOAD_KEYS": self.payload_keys(),
            "SLA_BLIND_INDEX_KEY": self.blind_index_key(),
            "SLA_WORKER_METRICS_BIND": f"127.0.0.1:{self.worker_metrics_port}",
            "SLA_EMBEDDED": "true",
            "SLA_WEBHOOK_ALLOW_LOOPBACK": os.environ.get("SLA_WEBHOOK_ALLOW_LOOPBACK", "true"),
            "SLA_CODEC_CORS_ORIGINS": os.environ.get("SLA_CODEC_CORS_ORIGINS", ui_origins),
        }

    def start(self, name: str, command: list[str], log: Path) -> None:
        out = log.open("ab")
        process = subprocess.Popen(command, cwd=ROOT, env=self.environment(), stdout=out, stderr=subprocess.STDOUT)
        self.processes.append((name, process))

    def wait_port(self, port: int, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc_name, process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{proc_name} exited (code {process.returncode}); see {self.data / proc_name}.log")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.3)
        raise SystemExit(f"{name} did not open port {port} within {timeout:.0f}s")

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    console.print(f"[yellow]{name} did not stop in 30 s; killing it[/yellow]")
                    process.kill()


def demo_keys(stack: Stack) -> dict[str, str]:
    from store.db import make_engine
    from worker.demo import ensure_demo_access

    engine = make_engine(stack.environment()["SLA_DATABASE_URL"])
    try:
        return ensure_demo_access(engine)
    finally:
        engine.dispose()


def print_welcome(stack: Stack, keys: dict[str, str]) -> None:
    api = f"http://127.0.0.1:{stack.api_port}"
    console.print(f"[bold green]slatrack is running[/bold green] (Ctrl-C stops everything; data stays in {stack.data})")
    console.print(f"  pages             {api}/requests (sign in with a key below; README: Pages)")
    console.print(f"  API docs          {api}/docs")
    guarded = "bearer SLA_METRICS_TOKEN" if os.environ.get("SLA_METRICS_TOKEN") else "open: embedded default"
    console.print(
        f"  metrics           {api}/metrics (SLA, {guarded}), "
        f"http://127.0.0.1:{stack.worker_metrics_port}/metrics (worker)"
    )
    console.print(f"  Temporal web UI   http://127.0.0.1:{stack.ui_port}")
    console.print(
        f"  decoded payloads  sign in at {api}/codec/login with the auditor key, then in the UI's Codec Server "
        "settings tick 'Include cross-origin credentials' (README: Auditors)"
    )
    console.print(f"  logs              {stack.data}/temporal.log, worker.log, api.log")
    # plain print from here: rich would wrap keys and commands at the terminal width
    print("\nDemo API keys (new on every run; stored hashed, shown only now):")
    for role, key in keys.items():
        print(f"  {role:32} {key}")
    coordinator = keys["coordinator (vendor-reliable)"]
    print("\nTry it: open a request, then send an event (put the id it returns in place of <id>)")
    body = (
        '{"service_id": "axa.green_channel.inpatient", "vendor_id": "vendor-reliable", "policy_no": "P-0001", '
        '"insured": {"name": "张三", "id_number": "110101199003071234"}}'
    )
    auth = f"-H 'Authorization: Bearer {coordinator}' -H 'Content-Type: application/json'"
    # continuation backslashes only between arguments, never inside the quoted JSON
    print(f"  curl -s -X POST {api}/v1/requests {auth} \\\n    -d '{body}'")
    print(
        f"  curl -s -X POST {api}/v1/requests/<id>/events {auth} -H 'Idempotency-Key: evt-1' \\\n"
        """    -d '{"type": "eligibility_approved", "occurred_at": "'$(date -Iseconds)'"}'""",
        flush=True,
    )


def stack_from_settings(
    api_port: int | None = None,
    temporal_port: int | None = None,
    ui_port: int | None = None,
    worker_metrics_port: int | None = None,
) -> Stack:
    """Flags win over SLA_API_PORT, SLA_TEMPORAL_PORT, SLA_UI_PORT, SLA_WORKER_METRICS_PORT, SLA_DATA_DIR."""
    from runtime.settings import Settings

    settings = Settings()
    return Stack(
        temporal_port=temporal_port or settings.temporal_port,
        ui_port=ui_port or settings.ui_port,
        api_port=api_port or settings.api_port,
        worker_metrics_port=worker_metrics_port or settings.worker_metrics_port,
        data=settings.data_dir,
    )


def run(stack: Stack | None = None) -> None:
    stack = stack or stack_from_settings()
    problems = check_ports(stack.ports)
    if problems:
        for problem in problems:
            print(f"slatrack up: {problem}", file=sys.stderr)
        print("slatrack up: nothing was started", file=sys.stderr)
        raise SystemExit(1)
    stack.data.mkdir(parents=True, exist_ok=True)
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        stack.start("temporal", stack.temporal_command(), stack.data / "temporal.log")
        stack.wait_port(stack.temporal_port, "Temporal dev server")
        subprocess.run([sys.executable, "-m", "cli.main", "db", "init"], cwd=ROOT, env=stack.environment(), check=True)
        stack.start("worker", [sys.executable, "-m", "worker"], stack.data / "worker.log")
        stack.wait_port(stack.worker_metrics_port, "worker")
        keys = demo_keys(stack)
        api = [sys.executable, "-m", "cli.main", "api", "--port", str(stack.api_port)]
        stack.start("api", api, stack.data / "api.log")
        stack.wait_port(stack.api_port, "API")
        print_welcome(stack, keys)
        while not stop_requested:
            for name, process in stack.processes:
                if process.poll() is not None:
                    console.print(f"[red]{name} exited (code {process.returncode}); stopping[/red]")
                    stop_requested = True
            time.sleep(0.5)
    finally:
        console.print("stopping ...")
        stack.stop()
        console.print("stopped")


if __name__ == "__main__":
    run()
