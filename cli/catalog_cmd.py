"""`slatrack catalog ...`: the service catalog, readable, with its sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adapters.catalog_files import DEFAULT_CATALOG_DIR, default_catalog
from sla.catalog.describe import describe_clock
from sla.catalog.model import ClockSpec
from sla.catalog.table import sign_off_table, with_table
from sla.errors import SlaError

catalog_app = typer.Typer(help="Service catalog built from the insurers' manuals.", no_args_is_help=True)
console = Console()


@catalog_app.command("list")
def list_services(insurer: Annotated[str | None, typer.Option(help="only this insurer id")] = None) -> None:
    """One line per service: id, insurer, name, clocks."""
    table = Table("id", "insurer", "name", "clocks", "source")
    for entry in default_catalog():
        if insurer and entry.insurer != insurer:
            continue
        clocks = ", ".join(f"{c.id} {c.duration.describe()}" for c in entry.clocks) or f"({entry.availability[:40]})"
        table.add_row(entry.id, entry.insurer, entry.name_zh, clocks, entry.source.cite())
    console.print(table)


@catalog_app.command()
def show(service_id: str) -> None:
    """Everything about one service: terms, clocks, customer windows, sources, notes."""
    try:
        entry = default_catalog().get(service_id)
    except SlaError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    console.print(f"[bold]{entry.id}[/bold] v{entry.version} ({entry.origin})")
    console.print(f"{entry.name_zh} / {entry.name_en}")
    console.print(f"insurer {entry.insurer_name}; vendor {entry.vendor_hint or '-'}; source {entry.source.cite()}")
    console.print(f"eligibility: {entry.eligibility}")
    quota = entry.quota_per_policy_year or "unlimited / not stated"
    console.print(f"quota per policy year: {quota} {entry.quota_note}")
    if entry.availability:
        console.print(f"availability: {entry.availability}")
    console.print(f"accepts: {', '.join(sorted(entry.accepts))}")
    for clock in entry.clocks:
        _print_clock(clock)
    if entry.windows:
        table = Table("customer window", "rule", "source", title="customer-side windows")
        for window in entry.windows:
            table.add_row(window.id, window.description, window.source.cite())
        console.print(table)
    if entry.notes:
        console.print(f"notes: {entry.notes}")


def _print_clock(clock: ClockSpec) -> None:
    """One clock: its terms, the events that move it, its source."""
    console.print(f"\n[bold]clock {clock.id}[/bold] - {clock.name_zh} / {clock.name_en} ({clock.party.value})")
    console.print(f"  duration {clock.duration.describe()}, warnings at {', '.join(f'{w:.0%}' for w in clock.warn_at)}")
    console.print(f"  start when all of: {', '.join(clock.start_all_of)}; stop on: {', '.join(clock.stop)}")
    for label, events in (
        ("pause", clock.pause),
        ("resume", clock.resume),
        ("restart", clock.restart),
        ("exempt", clock.exempt),
        ("void (never owed)", clock.void),
    ):
        if events:
            console.print(f"  {label} on: {', '.join(events)}")
    if clock.in_order:
        console.print("  start events count in the order listed; a stop counts only after the start")
    if clock.notice:
        console.print(f"  owed only after {clock.notice.event.value} at least {clock.notice.lead.describe()} before")
    terms = describe_clock(clock)
    console.print(f"  terms: {terms.summary.zh} {terms.starts.zh}")
    console.print(f"         {terms.summary.en} {terms.starts.en}")
    console.print(f"  source {clock.source.cite()}")
    if clock.notes:
        console.print(f"  notes: {clock.notes}")


@catalog_app.command("table")
def sign_off_table_command(
    write: Annotated[bool, typer.Option("--write", help="write it into catalog/README.md")] = False,
) -> None:
    """The sign-off table (every clock and window in plain Chinese and English), generated from the catalog."""
    table = sign_off_table(default_catalog())
    if not write:
        print(table)
        return
    readme = DEFAULT_CATALOG_DIR / "README.md"
    readme.write_text(with_table(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    console.print(f"wrote the sign-off table into {readme}")
