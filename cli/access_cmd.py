"""`slatrack api`, `slatrack keys create|revoke|list`, `slatrack vendors add|list`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

console = Console()
vendors_app = typer.Typer(help="Vendors (服务商) that coordinators act for.", no_args_is_help=True)


def _engine() -> Engine:
    from runtime.settings import get_settings
    from store.db import init_schema, make_engine

    engine = make_engine(get_settings().database_url)
    init_schema(engine)
    return engine


def api(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the HTTP API (docs at /docs)."""
    import uvicorn

    from api.server import SERVER_LIMITS
    from runtime.process import exit_after_temporal

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        log_level="info",
        **SERVER_LIMITS,
    )
    exit_after_temporal(0)  # the app's Temporal client, see there


def create(
    role: Annotated[str, typer.Option(help="coordinator | operations | auditor | admin")],
    vendor: Annotated[str | None, typer.Option(help="the vendor a coordinator acts for")] = None,
    insurer: Annotated[str | None, typer.Option(help="the insurer an auditor reads")] = None,
    label: Annotated[str, typer.Option(help="who holds it")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from store.keys import Role, create_key

    try:
        key = create_key(_engine(), Role(role), vendor_id=vendor, insurer_id=insurer, label=label)
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print("[bold]Store this key now; it is not shown again:[/bold]")
    typer.echo(key)


def revoke(key_id: str) -> None:
    """Revoke a key by its id (the part after sk_)."""
    from store.keys import revoke_key

    if not revoke_key(_engine(), key_id):
        console.print(f"[red]no active key {key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


def list_keys() -> None:
    """Key ids, roles and scopes (never the secrets)."""
    from store.keys import list_keys as load

    table = Table("key id", "role", "vendor", "insurer", "label", "created", "revoked")
    for row in load(_engine()):
        table.add_row(
            row.key_id,
            row.role,
            row.vendor_id or "",
            row.insurer_id or "",
            row.label,
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.revoked_at:%Y-%m-%d}" if row.revoked_at else "",
        )
    console.print(table)


@vendors_app.command("add")
def add_vendor(vendor_id: str, name: str) -> None:
    from sqlmodel import Session

    from store.models import VendorRow

    with Session(_engine()) as session:
        session.merge(VendorRow(id=vendor_id, name=name))
        session.commit()
    console.print(f"vendor {vendor_id}: {name}")


@vendors_app.command("list")
def list_vendors() -> None:
    from sqlmodel import Session, select

    from store.models import VendorRow

    with Session(_engine()) as session:
        for row in session.exec(select(VendorRow)).all():
            console.print(f"{row.id}\t{row.name}")
