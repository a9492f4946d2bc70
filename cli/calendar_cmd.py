"""`slatrack calendar ...`: deadlines, a year's data, overlay checks, reading a State Council notice."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from functools import reduce
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.calendar_files import default_calendar, load_overlay_file
from adapters.notice_text import read_notice_text
from adapters.overlay_yaml import dump_overlay
from sla.calendar.notice import NoticeReading, OutsideDay, amend, read_notice, to_year_data
from sla.calendar.overlay import YearData
from sla.catalog.model import Duration, DurationUnit
from sla.errors import CalendarDataError, SlaError
from sla.units import measure_of

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
        Duration(unit, amount)
        for unit, amount in (
            (DurationUnit.WORKING_DAYS, working_days),
            (DurationUnit.CALENDAR_DAYS, calendar_days),
            (DurationUnit.HOURS, hours),
        )
        if amount
    ]
    if len(chosen) != 1:
        _fail(ValueError("give exactly one of --working-days, --calendar-days, --hours (a positive number)"))
    duration = chosen[0]
    try:
        instant = datetime.fromisoformat(start)
        deadline = measure_of(duration, default_calendar()).due(instant)
    except (SlaError, ValueError) as error:
        _fail(error)
        return
    result = {
        "start": instant.isoformat(),
        duration.unit.value: duration.amount,
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


@calendar_app.command("import-notice")
def import_notice(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="the notice's text as published (UTF-8, title to date); any further files are later notices "
            "that change that year (调整…/延长…), applied in order"
        ),
    ],
    year: Annotated[int, typer.Option(help="the year the notice announces")],
    out: Annotated[Path | None, typer.Option(help="write the overlay YAML here, e.g. calendars/2027.yaml")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the body of PUT /v1/calendar/{year} (what was read goes to stderr)")
    ] = False,
    number: Annotated[
        list[str] | None,
        typer.Option(
            help="the document number, when the copy has none: 国办发明电〔YYYY〕N号. With several files, give it "
            "once per file in their order, '' for a file whose text has it"
        ),
    ] = None,
    published: Annotated[
        list[str] | None,
        typer.Option(
            "--date",
            help="the notice's date, when the copy has none: YYYY-MM-DD; once per file like --number",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing --out file")] = False,
) -> None:
    """Read a State Council holiday notice into a year's overlay and print what was read, for a person to check."""
    report = Console(stderr=True) if as_json else console
    try:
        reading = _read_notices(files, year, number or [], published or [], report)
        data = to_year_data(reading, f"import-notice {' '.join(map(str, files))}")
        if out is not None:
            _write_overlay(out, data, reading, force)
    except (SlaError, ValueError, OSError) as error:
        report.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    _print_reading(report, reading, data)
    if out is not None:
        report.print(f"[green]wrote[/green] {out}: check it with `slatrack calendar check {out}`")
    if as_json:
        typer.echo(json.dumps(_load_body(reading, data, year), ensure_ascii=False))
    elif out is None:
        console.print("[dim]no --out given; the overlay would be:[/dim]")
        console.print(escape(dump_overlay(data)), end="")


def _load_body(reading: NoticeReading, data: YearData, year: int) -> dict[str, object]:
    """The body of PUT /v1/calendar/{year}. Days the notice sets in the previous December go in it
    too: the load updates that year."""
    december_holidays, december_makeups = reading.days_in(year - 1)
    december = date(year - 1, 12, 1)
    return {
        "source": {"title": data.source.title, "number": data.source.number, "date": data.source.date},
        "holidays": sorted(d.isoformat() for d in data.holidays | december_holidays if d >= december),
        "makeup_workdays": sorted(d.isoformat() for d in data.makeup_workdays | december_makeups if d >= december),
    }


def _per_file(name: str, given: list[str], files: list[Path]) -> list[str]:
    """One value per file: --number/--date given once per file in order, or once for a single file."""
    if not given:
        return [""] * len(files)
    if len(given) != len(files):
        raise CalendarDataError(
            f"--{name} given {len(given)} times for {len(files)} files: give it once per file, in their order "
            f"('' for a file whose text has it)",
            rule="calendar.notice.options_per_file",
            source="calendars/README.md",
        )
    return given


def _read_notices(files: list[Path], year: int, numbers: list[str], dates: list[str], report: Console) -> NoticeReading:
    readings = []
    for path, number, published in zip(
        files, _per_file("number", numbers, files), _per_file("date", dates, files), strict=True
    ):
        text, converted = read_notice_text(path)
        if converted:
            report.print(
                f"[yellow]{escape(str(path))}: traditional Chinese, read as converted to simplified (OpenCC t2s)[/]"
            )
        reading = read_notice(text, year, origin=str(path))
        header = reading.headers[0]
        # A republished copy (Xinhua's) may leave out the number or the date; the operator gives them from gov.cn.
        given_date = date.fromisoformat(published) if published else None
        for name, found, given in (("number", header.number, number or None), ("date", header.published, given_date)):
            if found and given and found != given:
                raise CalendarDataError(f"{reading.origin}: the text gives the {name} {found}, not {given}")
        header = replace(header, number=header.number or number or None, published=header.published or given_date)
        readings.append(replace(reading, headers=(header,)))
    return reduce(amend, readings[1:], readings[0])


def _write_overlay(out: Path, data: YearData, reading: NoticeReading, force: bool) -> None:
    if out.exists() and not force:
        raise CalendarDataError(f"{out} exists; give --force to replace it")
    if out.stem.isdigit() and int(out.stem) != data.year:
        raise CalendarDataError(f"{out} is named for {out.stem}, the overlay is for {data.year}")
    outside = [f"#   {o.day} {o.day:%a} {_KINDS[o.kind]} ({o.holiday})" for o in reading.outside_year()]
    lines = [
        f"# {data.year} from {data.source.describe()}",
        "# read by `slatrack calendar import-notice` from the published text; checked by a person before loading.",
        *(
            ["# Days the notice sets outside the year (not in this file; see calendars/README.md):", *outside]
            if outside
            else []
        ),
    ]
    out.write_text("\n".join(lines) + "\n" + dump_overlay(data), encoding="utf-8")
    load_overlay_file(out)  # the file on disk is what `slatrack calendar check` reads: prove it passes


_KINDS = {"holiday": "rest day", "weekend": "rest day (a weekend: changes nothing)", "makeup": "make-up working day"}


def _print_reading(report: Console, reading: NoticeReading, data: YearData) -> None:
    for header in reading.headers:
        number, when = header.number or "no number", header.published or "no date"
        report.print(f"[bold]{escape(header.title)}[/bold] ({escape(number)}, {when})")
        if header.title_from:
            report.print(f"[yellow]  the copy has no title; read from 「{escape(header.title_from)}」[/yellow]")
    periods = Table("holiday", "from", "to", "days", "weekdays off (the overlay's holidays)", title="holiday periods")
    for period in reading.periods:
        periods.add_row(
            escape(period.holiday),
            f"{period.first} {period.first:%a}",
            f"{period.last} {period.last:%a}",
            str(len(period.days())),
            ", ".join(f"{d:%m-%d} {d:%a}" for d in period.weekdays()) or "none (weekend only)",
        )
    report.print(periods)
    makeups = Table("date", "weekday", "holiday", title="make-up working days (调休上班)")
    for makeup in reading.makeup_days:
        makeups.add_row(str(makeup.day), f"{makeup.day:%a}", escape(makeup.holiday))
    report.print(makeups)
    for remark in reading.remarks:
        days = ", ".join(f"{d} {d:%a}" for d in remark.days)
        report.print(f"[yellow]remark, changes nothing:[/yellow] {days}: 「{escape(remark.sentence)}」")
    _print_outside(report, reading.outside_year(), data.year)
    report.print(
        f"{data.year}: {len(data.holidays)} weekday holidays, {len(data.makeup_workdays)} make-up working days, "
        f"source {escape(data.source.describe())}"
    )


def _print_outside(report: Console, outside: list[OutsideDay], year: int) -> None:
    """Days in a neighbouring year: the overlay for `year` cannot hold them, so say whether the
    calendar this checkout loads for that year already has them."""
    if not outside:
        return
    report.print(
        f"[yellow]outside {year}[/yellow] (an overlay holds its own year only; these belong to the year shown):"
    )
    years = default_calendar().years
    for day in outside:
        loaded = years.get(day.day.year)
        if day.kind == "weekend":
            verdict = "nothing to load"
        elif loaded is None:
            verdict = f"[red]{day.day.year} has no data loaded: load {day.day.year} with this day[/red]"
        elif day.day in (loaded.holidays if day.kind == "holiday" else loaded.makeup_workdays):
            verdict = f"[green]already so in the loaded {day.day.year} data[/green] ({escape(loaded.origin)})"
        else:
            verdict = (
                f"[red]NOT so in the loaded {day.day.year} data[/red] ({escape(loaded.origin)}): "
                f"{day.day.year} needs a corrected overlay (calendars/README.md)"
            )
        report.print(f"  {day.day} {day.day:%a} {_KINDS[day.kind]} ({escape(day.holiday)}): {verdict}")
