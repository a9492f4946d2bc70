"""The calendar the activities compute with: package data plus the overlay files, reloaded when
the files change (an operator loads a year, then signals open requests to recompute)."""

from __future__ import annotations

import threading
from pathlib import Path

from sla.calendar.sources import build_calendar
from sla.calendar.working import WorkingCalendar


class CalendarSource:
    def __init__(self, overlay_dir: Path) -> None:
        self.overlay_dir = overlay_dir
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] | None = None
        self._calendar: WorkingCalendar | None = None

    def _files_stamp(self) -> tuple[tuple[str, float, int], ...]:
        if not self.overlay_dir.is_dir():
            return ()
        return tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in sorted(self.overlay_dir.glob("*.yaml")))

    def current(self) -> WorkingCalendar:
        stamp = self._files_stamp()
        with self._lock:
            if self._calendar is None or stamp != self._stamp:
                self._calendar = build_calendar(overlay_dir=self.overlay_dir)
                self._stamp = stamp
            return self._calendar
