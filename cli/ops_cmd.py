"""`slatrack worker`, `slatrack db init`, `slatrack keys new-payload-key`."""

from __future__ import annotations

import base64
import os

import typer
from rich.console import Console

console = Console()
db_app = typer.Typer(help="The read-model database.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys.", no_args_is_help=True)


def worker() -> None:
    """Run the Temporal worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY; SLA_*)."""
    from worker.main import main

    main()


def up() -> None:
    """Run the embedded stack: Temporal dev server on SQLite under .data/, the worker (Ctrl-C stops)."""
    from worker.stack import run

    run()


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
