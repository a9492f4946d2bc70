"""`slatrack calendar ...`: deadlines, a year's data, overlay checks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sla.calendar.overlay import load_overlay_file
from sla.calendar.sources import default_calendar
from sla.errors import SlaError

calendar_app = typer.Typer(help="Statutory working-day calendar.", no_args_is_help=True)
console = Console()


def _fail(error: SlaError | ValueError) -> None:
    console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(2)


@calendar_app.command()
def due(
    start: Annotated[str, typer.Argument(help="ISO instant with offset, e.g. 2025-09-26T14:00+08:00")],
    working_days: Annotated[int | None, typer.Option(help="N working days")] = None,
    calendar_days: Annotated[int | None, typer.Option(help="N calendar days (Civil Code art. 203)")] = None,
    hours: Annotated[int | None, typer.Option(help="N hours")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Print the due instant of a period starting at START."""
    chosen = [
        (k, v) for k, v in (("working_days", working_days), ("calendar_days", calendar_days), ("hours", hours)) if v
    ]
    if len(chosen) != 1:
        _fail(ValueError("give exactly one of --working-days, --calendar-days, --hours (a positive number)"))
    try:
        instant = datetime.fromisoformat(start)
        calendar = default_calendar()
        unit, amount = chosen[0]
        method = {"working_days": calendar.due_working_days, "calendar_days": calendar.due_calendar_days}.get(unit)
        deadline = method(instant, amount) if method else calendar.due_hours(instant, amount)
    except (SlaError, ValueError) as error:
        _fail(error)
        return
    result = {
        "start": instant.isoformat(),
        unit: amount,
        "due_at": deadline.due_at.isoformat(),
        "provisional": deadline.provisional,
        "calendar_fingerprint": deadline.calendar_fingerprint,
    }
    if as_json:
        typer.echo(json.dumps(result))
        return
    flag = (
        " [yellow](provisional: a year without official data, weekends only)[/yellow]" if deadline.provisional else ""
    )
    console.print(f"due [bold]{deadline.due_at.isoformat()}[/bold]{flag}")
    console.print(f"calendar fingerprint {deadline.calendar_fingerprint}")


@calendar_app.command()
def show(year: int) -> None:
    """List a year's holidays and make-up working days with their source."""
    calendar = default_calendar()
    data = calendar.years.get(year)
    if data is None:
        console.print(
            f"[yellow]{year}: no official data loaded; deadlines in {year} are provisional (weekends only).[/yellow]"
        )
        console.print(f"Load the State Council notice as calendars/{year}.yaml (see calendars/README.md).")
        raise typer.Exit(1)
    console.print(f"[bold]{year}[/bold] - {data.source.describe()}")
    console.print(f"from {data.origin}")
    table = Table("date", "weekday", "kind")
    days = [(d, "holiday (rest)") for d in data.holidays] + [(d, "make-up working day") for d in data.makeup_workdays]
    for day, kind in sorted(days):
        table.add_row(day.isoformat(), f"{day:%a}", kind)
    console.print(table)
    console.print(f"fingerprint of the loaded calendar: {calendar.fingerprint}")


@calendar_app.command()
def check(file: Path) -> None:
    """Validate an overlay file."""
    try:
        data = load_overlay_file(file)
    except (SlaError, ValueError, OSError) as error:
        _fail(error if isinstance(error, SlaError | ValueError) else ValueError(str(error)))
        return
    console.print(
        f"[green]ok[/green] {file}: {data.year}, {len(data.holidays)} weekday holidays, "
        f"{len(data.makeup_workdays)} make-up days, source {data.source.describe()}"
    )
