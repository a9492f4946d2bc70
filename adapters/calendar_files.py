"""Build the calendar: chinese-calendar's data (2004–2026), then the overlay files under `calendars/`.

An overlay for a year the package covers replaces that year (an official correction). This is
the only module that imports `chinese_calendar`; workflows never reach it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

from adapters.overlay_yaml import load_overlay_text
from sla.calendar.overlay import NoticeSource, YearData
from sla.calendar.working import WorkingCalendar
from sla.errors import CalendarDataError

DEFAULT_OVERLAY_DIR = Path(__file__).resolve().parents[1] / "calendars"


def package_years() -> dict[int, YearData]:
    from chinese_calendar import constants, get_holiday_detail

    package = f"chinese-calendar {version('chinese-calendar')}"
    years: dict[int, tuple[set[dt.date], set[dt.date]]] = {}
    for day in constants.holidays:
        years.setdefault(day.year, (set(), set()))[0].add(day)
    for day in constants.workdays:
        years.setdefault(day.year, (set(), set()))[1].add(day)
    result = {}
    for year, (holidays, workdays) in years.items():
        # The package lists weekend days inside holiday spans as holidays; only weekdays change anything.
        result[year] = YearData(
            year=year,
            holidays=frozenset(d for d in holidays if d.weekday() < 5),
            makeup_workdays=frozenset(workdays),
            source=NoticeSource(f"国务院办公厅关于{year}年部分节假日安排的通知", "as packaged", package),
            origin=package,
            names=tuple(sorted((d, _name(get_holiday_detail(d)[1])) for d in holidays | workdays)),
        )
    return result


def _name(holiday: str | None) -> str:
    """The package's English holiday name as people here read it: Chinese first."""
    from chinese_calendar import Holiday

    for known in Holiday:
        if known.value == holiday:
            return f"{known.chinese} {known.value}"
    return holiday or "节假日 Holiday"


def load_overlay_file(path: Path) -> YearData:
    data = load_overlay_text(path.read_text(encoding="utf-8"), str(path))
    if path.stem.isdigit() and int(path.stem) != data.year:
        raise CalendarDataError(f"{path}: file is named for {path.stem} but declares year {data.year}")
    return data


def overlay_years(directory: Path) -> list[YearData]:
    if not directory.is_dir():
        return []
    return [load_overlay_file(path) for path in sorted(directory.glob("*.yaml"))]


def build_calendar(
    overlays: Iterable[YearData] = (), *, overlay_dir: Path | None = DEFAULT_OVERLAY_DIR
) -> WorkingCalendar:
    years = package_years()
    if overlay_dir is not None:
        years.update({y.year: y for y in overlay_years(overlay_dir)})
    years.update({y.year: y for y in overlays})
    return WorkingCalendar(years.values())


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    return build_calendar()
