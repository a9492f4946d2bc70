"""`slatrack db rebuild` and `slatrack db verify`: the read model from the request workflows
(readmodel/rebuild.py says how, README.md's operations part says when)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from readmodel import rebuild as read_model

console = Console()


Pass = Callable[[read_model.Progress], Coroutine[Any, Any, read_model.Summary]]


def _with_progress(title: str, run: Pass) -> read_model.Summary:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(title, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return asyncio.run(run(advance))


def _print(summary: read_model.Summary, *, rebuilt: bool) -> None:
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, object]] = [
        ("requests", summary.requests),
        ("clocks", summary.clocks),
        ("outcomes", summary.outcomes),
        ("requests with differences", summary.requests_with_differences),
        ("differences", len(summary.differences)),
    ]
    if rebuilt:
        rows += [("written", summary.written), ("already at the workflow's position", summary.unchanged)]
    rows += [("past retention, replayed from the archive", summary.archived)]
    rows += [("unreadable workflows", len(summary.unreadable)), ("seconds", f"{summary.seconds:.1f}")]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for difference in summary.differences[:200]:
        console.print(f"  {difference.line()}", markup=False)
    if len(summary.differences) > 200:
        console.print(f"  … and {len(summary.differences) - 200} more")
    for line in summary.unreadable:
        console.print(f"  unreadable: {line}", markup=False)


def rebuild() -> None:
    """Re-project every request from its workflow into the read model (empty or not; safe to repeat).

    Rows already at their workflow's position are left alone; missing or differing ones are written
    again. Prints requests, clocks, outcomes and the differences found before writing."""
    from runtime.codec import EncryptionCodec
    from runtime.settings import TemporalSettings, get_settings
    from runtime.temporal import connect
    from store.calendar import CalendarSource
    from store.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url)
    calendars = CalendarSource(settings.calendar_dir, engine)

    async def run(progress: read_model.Progress) -> read_model.Summary:
        client = await connect(TemporalSettings(), keys=settings.keys())
        return await read_model.rebuild(client, engine, EncryptionCodec(settings.keys()), calendars, progress)

    summary = _with_progress("rebuilding", run)
    _print(summary, rebuilt=True)
    if summary.unreadable:
        raise typer.Exit(1)


def verify() -> None:
    """Compare the read model with every workflow, writing nothing; exit code 1 when they differ.

    Compared: status, revision, events count, and each clock's state, due instant and outcome."""
    from runtime.settings import TemporalSettings, get_settings
    from runtime.temporal import connect
    from store.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url)

    async def run(progress: read_model.Progress) -> read_model.Summary:
        client = await connect(TemporalSettings(), keys=settings.keys())
        return await read_model.verify(client, engine, progress)

    summary = _with_progress("verifying", run)
    _print(summary, rebuilt=False)
    if summary.differences or summary.unreadable:
        raise typer.Exit(1)
