"""`slatrack simulate`: realistic vendor traffic through the HTTP API."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from simulator.traffic import Tally

console = Console()


def _local_admin_key() -> str:
    """In the embedded default: make the demo vendors and a simulator key in the local database."""
    from sqlmodel import Session

    from runtime.settings import get_settings
    from simulator.traffic import HABITS
    from store.db import init_schema, make_engine
    from store.keys import Role, create_key
    from store.models import VendorRow
    from worker.demo import DEMO_VENDORS

    engine = make_engine(get_settings().database_url)
    init_schema(engine)
    with Session(engine) as session:
        for vendor_id in HABITS:
            session.merge(VendorRow(id=vendor_id, name=DEMO_VENDORS.get(vendor_id, vendor_id)))
        session.commit()
    return create_key(engine, Role.ADMIN, label="simulator")


def simulate(
    requests: Annotated[int, typer.Option(help="how many requests to open")] = 200,
    days: Annotated[int, typer.Option(help="spread opened_at over this many past days")] = 30,
    api: Annotated[str, typer.Option(help="API base URL")] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option(envvar="SLA_API_KEY", help="an admin key (default: make one locally)")
    ] = None,
    seed: Annotated[int, typer.Option(help="same seed, same traffic (external refs make reruns idempotent)")] = 7,
    concurrency: int = 8,
) -> None:
    """Open requests for three vendors with different habits and send their events at plausible times."""
    from adapters.calendar_files import default_calendar
    from adapters.catalog_files import default_catalog
    from simulator.traffic import HABITS
    from simulator.traffic import simulate as run

    admin_key = key or _local_admin_key()
    console.print(f"vendors: {', '.join(f'{v} ({h.name})' for v, h in HABITS.items())}")

    async def main() -> None:
        async with httpx.AsyncClient(
            base_url=api, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
        ) as client:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                tally = await run(
                    client,
                    default_catalog(),
                    default_calendar(),
                    requests=requests,
                    days=days,
                    seed=seed,
                    concurrency=concurrency,
                    progress=progress,
                )
        _print_outcome(tally)

    asyncio.run(main())


def _print_outcome(tally: Tally) -> None:
    """What the traffic did; the first errors, and exit 1 if there were any."""
    console.print(
        f"opened {tally.opened}, events {tally.events}, completed {tally.completed}, "
        f"cancelled {tally.cancelled}, refused by rules {tally.rejected}"
    )
    for error in tally.errors[:10]:
        console.print(f"[red]{error}[/red]")
    if tally.errors:
        raise typer.Exit(1)
