"""The working calendar every process computes with, and the years operators load into the database.

The calendar is the package data, the overlay files under `calendars/` (read when the process
starts), then the years loaded into the database (PUT /v1/calendar/{year}). It is built once and
kept. Every load of a year raises the database's calendar generation and signals the open requests
with it; a workflow passes the newest generation it was told about to its activity, so the worker
that runs it reloads exactly when it must. A process that was told nothing (a new request opened on
another API replica's word) re-checks the generation with one indexed query at most every
`recheck_seconds`.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session
from sqlmodel import select as orm_select

from adapters.calendar_files import build_calendar, overlay_years
from adapters.overlay_yaml import dump_overlay, load_overlay_text
from sla.calendar.overlay import YearData
from sla.calendar.working import WorkingCalendar
from store.db import write_transaction
from store.models import CalendarOverlayRow, table_of
from store.upsert import upsert

OVERLAYS = table_of(CalendarOverlayRow)


class CalendarSource:
    def __init__(self, overlay_dir: Path, engine: Engine | None = None, recheck_seconds: float = 5.0) -> None:
        self.overlay_dir = overlay_dir
        self.engine = engine
        self.recheck_seconds = recheck_seconds
        self._files = overlay_years(overlay_dir)
        self._lock = threading.Lock()
        self._calendar: WorkingCalendar | None = None
        self._generation = -1
        self._checked_at = float("-inf")

    def stored_generation(self) -> int:
        """The database's calendar generation: 0 before any year was loaded."""
        if self.engine is None:
            return 0
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.coalesce(func.max(OVERLAYS.c.generation), 0))).scalar_one())

    def db_overlays(self) -> list[YearData]:
        if self.engine is None:
            return []
        with Session(self.engine) as session:
            rows = session.exec(orm_select(CalendarOverlayRow)).all()
        return [load_overlay_text(r.document, f"database overlay {r.year} (loaded by {r.loaded_by})") for r in rows]

    def current(self, at_least: int = 0) -> WorkingCalendar:
        """The calendar, reloaded if the database holds a newer generation than the cached one and
        either a caller says so (`at_least`) or the last check is older than `recheck_seconds`."""
        with self._lock:
            due = time.monotonic() - self._checked_at >= self.recheck_seconds
            if self._calendar is None or at_least > self._generation or due:
                generation = self.stored_generation()
                self._checked_at = time.monotonic()
                if self._calendar is None or generation != self._generation:
                    self._calendar = build_calendar([*self._files, *self.db_overlays()], overlay_dir=None)
                    self._generation = generation
            return self._calendar

    @property
    def generation(self) -> int:
        """The generation of the cached calendar (-1 before the first build)."""
        return self._generation

    def with_overlay(self, *overlays: YearData) -> WorkingCalendar:
        """The calendar as it would be with these overlays loaded too (dry runs)."""
        return build_calendar([*self._files, *self.db_overlays(), *overlays], overlay_dir=None)


def store_overlay(engine: Engine, overlay: YearData, loaded_by: str, loaded_at: datetime) -> int:
    """Store the year (replacing an earlier load of it) and return the new calendar generation."""
    with write_transaction(engine) as connection:
        latest = connection.execute(select(func.coalesce(func.max(OVERLAYS.c.generation), 0))).scalar_one()
        generation = int(latest) + 1
        row = {
            "year": overlay.year,
            "document": dump_overlay(overlay),
            "loaded_by": loaded_by,
            "loaded_at": loaded_at,
            "generation": generation,
        }
        upsert(connection, OVERLAYS, [row])
    return generation
