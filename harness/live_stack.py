"""A whole stack for HTTP tests: Temporal dev server (a process we can stop and restart on the same
SQLite file), the real worker, and the API served by uvicorn on a real port."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from api.app import create_app
from api.server import SERVER_LIMITS
from harness.keys import TEST_KEYS, TEST_KEYS_SETTING
from harness.servers import dev_server_command, free_port, wait_for_port
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import connect
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from store.models import VendorRow
from worker.build import Workers, build_worker
from worker.main import metrics_runtime

METRICS_TOKEN = "live-stack-metrics-token"
VENDORS = {"vendor-reliable": "Reliable (test)", "vendor-late": "Late (test)", "vendor-forgetful": "Forgetful (test)"}


@dataclass
class DevServer:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    dynamic_config: tuple[str, ...] = ()  # KEY=VALUE pairs for the server's dynamic config

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            dev_server_command(
                self.port, free_port(), free_port(), self.directory / "temporal.db", self.dynamic_config
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def _stack_settings(directory: Path, database_url: str | None, overrides: dict[str, Any]) -> Settings:
    """The stack's settings: its own database and calendar folder, the test payload keys, `overrides` last."""
    return Settings(
        database_url=database_url or f"sqlite:///{directory / 'read-model.db'}",
        calendar_dir=directory / "calendars",
        payload_keys=TEST_KEYS_SETTING,
        task_queue="api-tests",
        metrics_token=METRICS_TOKEN,
        # The suites on this shared stack reuse policy numbers beyond the manuals' quotas on purpose;
        # tests/api/test_quota.py switches enforcement on (with a blind-index key) for its own tests.
        quota_enforced=False,
        webhook_allow_loopback=True,  # the webhook receivers of the tests listen on 127.0.0.1
        **overrides,
    )


def _vendors_and_keys(engine: Engine) -> dict[str, str]:
    """The demo vendors, and one API key per role the tests sign in with (by name)."""
    with Session(engine) as session:
        for vendor_id, name in VENDORS.items():
            session.add(VendorRow(id=vendor_id, name=name))
        session.commit()
    return {
        "coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-reliable", label="test"),
        "other_coordinator": create_key(engine, Role.COORDINATOR, vendor_id="vendor-late", label="test"),
        "operations": create_key(engine, Role.OPERATIONS, label="test"),
        "auditor": create_key(engine, Role.AUDITOR, insurer_id="axa_tianping", label="test"),
        "other_auditor": create_key(engine, Role.AUDITOR, insurer_id="zhongan", label="test"),
        "admin": create_key(engine, Role.ADMIN, label="test"),
    }


@dataclass
class LiveStack:
    temporal: DevServer
    settings: Settings
    engine: Engine
    client: Client
    worker: Workers
    worker_task: asyncio.Task[None]
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str
    keys: dict[str, str]
    worker_metrics: str  # host:port of the worker's Temporal SDK metrics

    @classmethod
    async def start(
        cls,
        directory: Path,
        database_url: str | None = None,
        dynamic_config: tuple[str, ...] = (),
        **settings: Any,
    ) -> LiveStack:
        """`settings`: Settings fields for this stack only (e.g. review_corrections=True)."""
        temporal = DevServer(directory, dynamic_config=dynamic_config)
        temporal.start()
        try:
            return await cls._start_rest(directory, temporal, database_url, settings)
        except BaseException:
            temporal.stop()  # never leave a server process behind a failed start
            raise

    @classmethod
    async def _start_rest(
        cls, directory: Path, temporal: DevServer, database_url: str | None, overrides: dict[str, Any]
    ) -> LiveStack:
        settings = _stack_settings(directory, database_url, overrides)
        (directory / "calendars").mkdir(exist_ok=True)
        engine = make_engine(settings.database_url)
        init_schema(engine)
        keys = _vendors_and_keys(engine)
        worker_metrics = f"127.0.0.1:{free_port()}"
        client = await connect(
            TemporalSettings(address=temporal.address), keys=TEST_KEYS, runtime=metrics_runtime(worker_metrics)
        )
        worker = build_worker(client, settings, engine)
        worker_task = asyncio.create_task(worker.run())
        port = free_port()
        app = create_app(settings, TemporalSettings(address=temporal.address))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **SERVER_LIMITS)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for_port(port)
        return cls(
            temporal,
            settings,
            engine,
            client,
            worker,
            worker_task,
            server,
            thread,
            f"http://127.0.0.1:{port}",
            keys,
            worker_metrics,
        )

    async def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        await self.worker.shutdown()
        await self.worker_task
        self.temporal.stop()
        self.engine.dispose()

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    @staticmethod
    def metrics_headers() -> dict[str, str]:
        """What Prometheus sends to /metrics (SLA_METRICS_TOKEN)."""
        return {"Authorization": f"Bearer {METRICS_TOKEN}"}
