"""The calendar the activities and the API compute with: the package data, the overlay files
under `calendars/`, then the overlays operators loaded into the database (PUT /v1/calendar/{year}),
rebuilt whenever any of them changes."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from sla.calendar.overlay import YearData, load_overlay_text
from sla.calendar.sources import build_calendar
from sla.calendar.working import WorkingCalendar
from store.models import CalendarOverlayRow

Stamp = tuple[tuple[tuple[str, float, int], ...], tuple[int, str | None]]


class CalendarSource:
    def __init__(self, overlay_dir: Path, engine: Engine | None = None) -> None:
        self.overlay_dir = overlay_dir
        self.engine = engine
        self._lock = threading.Lock()
        self._stamp: Stamp | None = None
        self._calendar: WorkingCalendar | None = None

    def _files_stamp(self) -> tuple[tuple[str, float, int], ...]:
        if not self.overlay_dir.is_dir():
            return ()
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in sorted(self.overlay_dir.glob("*.yaml")))

    def _db_stamp(self) -> tuple[int, str | None]:
        if self.engine is None:
            return (0, None)
        with Session(self.engine) as session:
            count, latest = session.exec(select(func.count(), func.max(CalendarOverlayRow.loaded_at))).one()
        return (int(count), str(latest) if latest else None)

    def db_overlays(self) -> list[YearData]:
        if self.engine is None:
            return []
        with Session(self.engine) as session:
            rows = session.exec(select(CalendarOverlayRow)).all()
        return [load_overlay_text(r.document, f"database overlay {r.year} (loaded by {r.loaded_by})") for r in rows]

    def current(self) -> WorkingCalendar:
        stamp = (self._files_stamp(), self._db_stamp())
        with self._lock:
            if self._calendar is None or stamp != self._stamp:
                self._calendar = build_calendar(self.db_overlays(), overlay_dir=self.overlay_dir)
                self._stamp = stamp
            return self._calendar

    def with_overlay(self, overlay: YearData) -> WorkingCalendar:
        """The calendar as it would be with one more overlay (dry runs)."""
        return build_calendar([*self.db_overlays(), overlay], overlay_dir=self.overlay_dir)
