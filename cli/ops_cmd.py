"""`slatrack worker`, `slatrack db init`, `slatrack keys new-payload-key`."""

from __future__ import annotations

import base64
import os
from typing import Annotated

import typer
from rich.console import Console

console = Console()
db_app = typer.Typer(help="The read-model database.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys.", no_args_is_help=True)


def worker() -> None:
    """Run the Temporal worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY; SLA_*)."""
    from worker.main import main

    main()


def up(
    api_port: Annotated[int | None, typer.Option(help="the HTTP API [SLA_API_PORT, 8000]", min=1, max=65535)] = None,
    temporal_port: Annotated[
        int | None, typer.Option(help="the dev server's gRPC [SLA_TEMPORAL_PORT, 7233]", min=1, max=65535)
    ] = None,
    ui_port: Annotated[
        int | None, typer.Option(help="the Temporal web UI [SLA_UI_PORT, 8233]", min=1, max=65535)
    ] = None,
    worker_metrics_port: Annotated[
        int | None, typer.Option(help="the worker's SDK metrics [SLA_WORKER_METRICS_PORT, 9464]", min=1, max=65535)
    ] = None,
) -> None:
    """Run the embedded stack: Temporal dev server on SQLite under .data/, the worker, the API (Ctrl-C stops).

    A port already taken stops it before anything starts, with the process that holds the port."""
    from worker.stack import run, stack_from_settings

    run(stack_from_settings(api_port, temporal_port, ui_port, worker_metrics_port))


@db_app.command("init")
def init() -> None:
    """Create the tables (idempotent)."""
    from runtime.settings import get_settings
    from store.db import init_schema, make_engine

    settings = get_settings()
    init_schema(make_engine(settings.database_url))
    console.print(f"schema ready at {settings.database_url.split('@')[-1]}")


@keys_app.command("new-payload-key")
def new_payload_key(key_id: str = "k1") -> None:
    """Print a fresh AES-256 key for SLA_PAYLOAD_KEYS (prepend it to rotate; keep old ids to decrypt)."""
    typer.echo(f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}")
