"""Year overlays: a year's holidays and make-up days from the State Council notice, as a document.

Pure: the document arrives parsed (an overlay file's YAML, a PUT body, a database row); the YAML text
and the files are `adapters.overlay_yaml` and `adapters.calendar_files`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sla.errors import CalendarDataError


@dataclass(frozen=True)
class NoticeSource:
    title: str
    number: str
    date: str

    def describe(self) -> str:
        return f"{self.title} ({self.number}, {self.date})"


@dataclass(frozen=True)
class YearData:
    """The statutory calendar of one year: rest days beyond weekends and working weekend days."""

    year: int
    holidays: frozenset[dt.date]
    makeup_workdays: frozenset[dt.date]
    source: NoticeSource
    origin: str  # where the data came from: a package version or an overlay file
    # What people call a day off or a make-up working day ("国庆节 National Day"): shown on the audit
    # page's calendar, never part of the working-day rule (nor of the fingerprint, nor of equality).
    names: tuple[tuple[dt.date, str], ...] = field(default=(), compare=False)

    def canonical(self) -> str:
        """Stable text of the data used, for the calendar fingerprint."""
        hol = ",".join(d.isoformat() for d in sorted(self.holidays))
        mk = ",".join(d.isoformat() for d in sorted(self.makeup_workdays))
        return f"{self.year}|H:{hol}|W:{mk}|S:{self.source.describe()}"


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise CalendarDataError(f"{where}: {value!r} is a datetime; list dates only (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise CalendarDataError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_overlay(document: Any, origin: str) -> YearData:
    """Validate one overlay document (already parsed YAML). Every error names `origin`."""
    if not isinstance(document, dict):
        raise CalendarDataError(f"{origin}: an overlay is a mapping with year, holidays, makeup_workdays, source")
    unknown = set(document) - {"year", "holidays", "makeup_workdays", "source", "names"}
    if unknown:
        raise CalendarDataError(f"{origin}: unknown keys {sorted(unknown)}")
    year = document.get("year")
    if not isinstance(year, int) or not 1900 <= year <= 2200:
        raise CalendarDataError(f"{origin}: 'year' must be a four-digit year, got {year!r}")

    source = document.get("source")
    if not isinstance(source, dict) or not all(str(source.get(k) or "").strip() for k in ("title", "number", "date")):
        raise CalendarDataError(
            f"{origin}: 'source' must give the notice's title, number and date "
            "(e.g. 国务院办公厅关于2027年部分节假日安排的通知, 国办发明电〔2026〕N号, 2026-11-..)"
        )
    notice = NoticeSource(str(source["title"]).strip(), str(source["number"]).strip(), str(source["date"]).strip())

    lists: dict[str, frozenset[dt.date]] = {}
    for key in ("holidays", "makeup_workdays"):
        raw = document.get(key) or []
        if not isinstance(raw, list):
            raise CalendarDataError(f"{origin}: '{key}' must be a list of dates")
        days = [_as_date(v, f"{origin}: {key}") for v in raw]
        outside = [d for d in days if d.year != year]
        if outside:
            raise CalendarDataError(f"{origin}: {key} has dates outside {year}: {', '.join(map(str, outside))}")
        duplicates = {d for d in days if days.count(d) > 1}
        if duplicates:
            raise CalendarDataError(f"{origin}: {key} lists {sorted(map(str, duplicates))} twice")
        lists[key] = frozenset(days)

    both = lists["holidays"] & lists["makeup_workdays"]
    if both:
        raise CalendarDataError(f"{origin}: {sorted(map(str, both))} are both a holiday and a make-up workday")
    weekday_makeups = sorted(d for d in lists["makeup_workdays"] if d.weekday() < 5)
    if weekday_makeups:
        raise CalendarDataError(
            f"{origin}: make-up workdays must fall on a Saturday or Sunday; "
            f"{', '.join(f'{d} ({d:%A})' for d in weekday_makeups)} do not"
        )
    return YearData(year, lists["holidays"], lists["makeup_workdays"], notice, origin, _names(document, year, origin))


def _names(document: dict[str, Any], year: int, origin: str) -> tuple[tuple[dt.date, str], ...]:
    """The optional `names:` mapping of an overlay: date -> what the day is called."""
    raw = document.get("names") or {}
    if not isinstance(raw, dict):
        raise CalendarDataError(f"{origin}: 'names' must map dates to names (2027-10-01: 国庆节 National Day)")
    named = []
    for key, value in raw.items():
        day = _as_date(key, f"{origin}: names")
        if day.year != year or not isinstance(value, str) or not 0 < len(value.strip()) <= 60:
            raise CalendarDataError(f"{origin}: names: {key} needs a date in {year} and a name of 1-60 characters")
        named.append((day, value.strip()))
    return tuple(sorted(named))


def overlay_document(data: YearData) -> dict[str, Any]:
    """The overlay document of a year's data: what `parse_overlay` reads back as the same data."""
    return {
        "year": data.year,
        "source": {"title": data.source.title, "number": data.source.number, "date": data.source.date},
        "holidays": [d.isoformat() for d in sorted(data.holidays)],
        "makeup_workdays": [d.isoformat() for d in sorted(data.makeup_workdays)],
    } | ({"names": {d.isoformat(): name for d, name in data.names}} if data.names else {})
