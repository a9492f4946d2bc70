"""A clock drawn on the working-day calendar: the geometry of the audit page's inline SVG.

Pure (no I/O, no clock, no templates): instants and the calendar's day kinds in, shapes in viewBox
units out; web/templates/clock_chart.svg draws them. One row per clock, occurrence and cycle (a
restart starts a new row). The axis is continuous time in Asia/Shanghai: days for a long clock (a
60-working-day clock spans about 90 days, ~11 units each), hours for a short one (a 2-hour clock),
so both stay legible at the same width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sla.calendar.timeutil import SHANGHAI

WIDTH = 1000.0
HOURLY_BELOW = timedelta(days=2)  # shorter windows get an hour axis
# Vertical layout, top down: the axis ticks, the day names in lanes, the day cells with the spans
# inside, the markers' labels in lanes. Lanes keep every label clear of its neighbours.
TICK_BASELINE, NAMES_TOP, LANE_HEIGHT, FONT = 12.0, 16.0, 16.0, 12.0
DAY_HEIGHT, BAR_INSET, BAR_HEIGHT = 40.0, 10.0, 16.0

DayInfo = Callable[[date], tuple[str, str | None]]  # (work | rest | holiday | makeup, name or None)


@dataclass(frozen=True)
class Entry:
    """One line of a clock's timeline (sla.engine.model.TimelineEntry, as the read model keeps it)."""

    at: datetime
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class Cycle:
    """One row: a cycle of one clock instance, with the spans and events to draw."""

    number: int
    spans: tuple[tuple[datetime, datetime, str], ...]  # (from, to, running | paused | late)
    marks: tuple[tuple[datetime, str], ...]  # (at, started | warning | paused | resumed | due | ...)
    start: datetime
    end: datetime


@dataclass(frozen=True)
class DayCell:
    x: float
    width: float
    day: date
    kind: str
    name: str | None
    label: str  # the day of the month, or "" where cells are too narrow to label every day


@dataclass(frozen=True)
class Band:
    """Consecutive days sharing a name (a holiday, or a make-up day), labelled once above them."""

    x: float
    width: float
    text: str
    kind: str
    lane: int = 0
    anchor: str = "start"

    @property
    def text_x(self) -> float:
        return self.x + 2 if self.anchor == "start" else self.x + self.width - 2


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    kind: str


@dataclass(frozen=True)
class Marker:
    x: float
    kind: str
    label: str
    lane: int
    anchor: str  # start | end: labels near the right edge run leftwards

    @property
    def text_x(self) -> float:
        return self.x + 3 if self.anchor == "start" else self.x - 3

    @property
    def label_left(self) -> float:
        """Where the label's backing starts (it hides any line behind the text)."""
        return self.text_x - 1 if self.anchor == "start" else self.text_x - self.label_width - 1

    @property
    def label_width(self) -> float:
        return _text_width(self.label) + 2


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    hourly: bool
    days: tuple[DayCell, ...]
    bands: tuple[Band, ...]
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    ticks: tuple[Tick, ...]
    day_top: float  # where the day cells begin (below the names' lanes)
    height: float
    width: float = WIDTH

    @property
    def bar_top(self) -> float:
        return self.day_top + BAR_INSET

    @property
    def day_bottom(self) -> float:
        return self.day_top + DAY_HEIGHT

    def band_baseline(self, band: Band) -> float:
        return NAMES_TOP + band.lane * LANE_HEIGHT + FONT

    def marker_baseline(self, marker: Marker) -> float:
        return self.day_bottom + 6 + marker.lane * LANE_HEIGHT + FONT


def _local(at: datetime) -> datetime:
    return at.astimezone(SHANGHAI)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


def cycles(
    timeline: Sequence[Entry], due_at: datetime | None, stopped_at: datetime | None, now: datetime
) -> list[Cycle]:
    """The rows of one clock instance: its timeline split at each restart. The due instant is known
    for the current cycle only (the engine keeps one); an open span runs until `now`."""
    rows: list[list[Entry]] = []
    for entry in sorted(timeline, key=lambda e: e.at):
        if entry.kind == "ignored":
            continue
        if entry.kind in ("started", "restarted") or not rows:
            rows.append([])
        rows[-1].append(entry)
    result = []
    for number, entries in enumerate(rows, start=1):
        last = number == len(rows)
        closing = rows[number][0].at if not last else None  # the restart that ended this cycle
        spans: list[tuple[datetime, datetime, str]] = []
        marks: list[tuple[datetime, str]] = []
        open_from: datetime | None = None
        open_kind = "running"
        for entry in entries:
            kind = entry.kind
            if kind in ("started", "restarted", "resumed", "paused"):
                if open_from is not None:
                    spans.append((open_from, entry.at, open_kind))
                open_from, open_kind = entry.at, "paused" if kind == "paused" else "running"
            elif kind == "breached":
                if open_from is not None:
                    spans.append((open_from, entry.at, open_kind))
                open_from, open_kind = entry.at, "late"
            elif kind in ("stopped", "exempted", "cancelled"):
                if open_from is not None:
                    spans.append((open_from, entry.at, open_kind))
                open_from = None
            marks.append((entry.at, kind))
        end_of_open = closing or (stopped_at if stopped_at and last else None) or now
        if open_from is not None and end_of_open > open_from:
            spans.append((open_from, end_of_open, open_kind))
        if closing is not None:
            marks.append((closing, "restarted_here"))
        if last and due_at is not None and not any(k == "breached" for _, k in marks):
            marks.append((due_at, "due"))
        instants = [entries[0].at, *(m for m, _ in marks), *(b for _, b, _ in spans)]
        result.append(Cycle(number, tuple(spans), tuple(sorted(marks)), min(instants), max(instants)))
    return result


def _text_width(text: str) -> float:
    """Rough advance of `text` at FONT size: CJK glyphs are square, Latin ones about half as wide."""
    return sum(FONT if ord(c) >= 0x2E80 else FONT * 0.58 for c in text)


def _lanes(items: list[tuple[float, str]]) -> list[tuple[int, str]]:
    """Label lanes, left to right, so that no two labels overlap: (lane, anchor) per item, in the
    items' order. A label that would run past the right edge runs leftwards from its x instead."""
    ends: list[float] = []
    placed: list[tuple[int, str]] = [(0, "start")] * len(items)
    for index in sorted(range(len(items)), key=lambda i: items[i][0]):
        x, text = items[index]
        width = _text_width(text) + 8
        anchor = "end" if x + width > WIDTH else "start"
        left, right = (x - width, x) if anchor == "end" else (x, x + width)
        lane = next((i for i, end in enumerate(ends) if left > end), len(ends))
        if lane == len(ends):
            ends.append(right)
        else:
            ends[lane] = right
        placed[index] = (lane, anchor)
    return placed


LABELS = {
    "started": "开始 start",
    "restarted": "重新计时 restart",
    "restarted_here": "重新计时 restarted",
    "paused": "暂停 pause",
    "resumed": "恢复 resume",
    "warning": "预警 warning",
    "due": "截止 due",
    "breached": "超时 breach",
    "stopped": "完成 stop",
    "exempted": "豁免 exempt",
    "cancelled": "取消 cancel",
}


@dataclass(frozen=True)
class _Axis:
    """The row's window of time, from `first` to `last` in Asia/Shanghai, mapped onto 0..WIDTH."""

    hourly: bool
    first: datetime
    last: datetime

    @property
    def seconds(self) -> float:
        return (self.last - self.first).total_seconds()

    def x(self, at: datetime) -> float:
        return round(max(0.0, min(1.0, (at - self.first).total_seconds() / self.seconds)) * WIDTH, 2)


def _axis_of(cycle: Cycle) -> _Axis:
    """Whole hours around a short cycle, padded a tenth of its span; whole days around a long one."""
    span = cycle.end - cycle.start
    if span < HOURLY_BELOW:
        pad = max(span / 10, timedelta(minutes=15))
        first = _local(cycle.start - pad).replace(minute=0, second=0, microsecond=0)
        last = _local(cycle.end + pad)
        last = last.replace(minute=0, second=0, microsecond=0) + (timedelta(hours=1) if last.minute else timedelta())
        return _Axis(True, first, last)
    end_local = _local(cycle.end)
    last_day = end_local.date() if end_local == _midnight(end_local.date()) else end_local.date() + timedelta(1)
    return _Axis(False, _midnight(_local(cycle.start).date()), _midnight(last_day))


def _day_cells(axis: _Axis, day_info: DayInfo) -> list[DayCell]:
    """One cell per calendar day on the axis, with its kind and name; numbered where the number fits."""
    days: list[DayCell] = []
    day = _local(axis.first).date()
    cell_width = WIDTH * 86400 / axis.seconds
    step = max(1, math.ceil(18 / cell_width))  # label every day only where the number fits
    while _midnight(day) < axis.last:
        left = axis.x(max(_midnight(day), axis.first))
        right = axis.x(min(_midnight(day + timedelta(1)), axis.last))
        kind, name = day_info(day)
        label = str(day.day) if day.toordinal() % step == 0 and right - left >= 9 and not axis.hourly else ""
        days.append(DayCell(left, round(right - left, 2), day, kind, name, label))
        day += timedelta(1)
    return days


def _named_day_bands(days: list[DayCell]) -> list[Band]:
    """One band per run of adjacent named days of a kind, in lanes; a run holding several holidays
    (National Day 2025 took in the Mid-autumn Festival) names each once, in order."""
    bands: list[Band] = []
    for cell in days:
        if cell.name is None or cell.kind == "work":
            continue
        text = f"调休上班 {cell.name}" if cell.kind == "makeup" else cell.name
        previous = bands[-1] if bands else None
        if previous and previous.kind == cell.kind and abs(previous.x + previous.width - cell.x) < 0.01:
            names = previous.text.split(" · ")
            merged = previous.text if text in names else f"{previous.text} · {text}"
            bands[-1] = Band(previous.x, round(previous.width + cell.width, 2), merged, previous.kind)
        else:
            bands.append(Band(cell.x, cell.width, text, cell.kind))
    band_lanes = _lanes([(band.x, band.text) for band in bands])
    return [
        Band(b.x, b.width, b.text, b.kind, lane, anchor) for b, (lane, anchor) in zip(bands, band_lanes, strict=True)
    ]


def _markers(cycle: Cycle, axis: _Axis, describe: Callable[[datetime, str], str]) -> tuple[Marker, ...]:
    """A labelled marker per event of the cycle, its label in a lane clear of its neighbours."""
    shown = list(cycle.marks)
    texts = [(axis.x(at), f"{LABELS.get(kind, kind)} {describe(at, kind)}") for at, kind in shown]
    placed = _lanes(texts)
    return tuple(
        Marker(x, kind, text, lane, anchor)
        for (x, text), (_, kind), (lane, anchor) in zip(texts, shown, placed, strict=True)
    )


def _ticks(axis: _Axis, days: list[DayCell]) -> list[Tick]:
    """Hour ticks at a step that leaves 60 units between them, or a tick at each month's first day."""
    ticks: list[Tick] = []
    if axis.hourly:
        hours = axis.seconds / 3600
        every = next((h for h in (1, 2, 3, 6, 12, 24) if WIDTH / hours * h >= 60), 24)
        at = axis.first
        while at <= axis.last:
            if at.hour % every == 0:
                text = f"{at:%m-%d %H:%M}" if at.hour == 0 or at == axis.first else f"{at:%H:%M}"
                ticks.append(Tick(axis.x(at), text))
            at += timedelta(hours=1)
        return ticks
    for cell in days:
        if cell.day.day == 1 or cell is days[0]:
            ticks.append(Tick(cell.x, f"{cell.day:%Y-%m}"))
    return [t for i, t in enumerate(ticks) if i == 0 or t.x - ticks[i - 1].x >= 60]


def chart(cycle: Cycle, day_info: DayInfo, describe: Callable[[datetime, str], str]) -> Chart:
    """The shapes of one row. `describe(at, kind)` writes a marker's time (e.g. "10-17 24:00")."""
    axis = _axis_of(cycle)
    days = _day_cells(axis, day_info)
    bands = _named_day_bands(days)
    name_lanes = max((b.lane + 1 for b in bands), default=0)
    day_top = NAMES_TOP + name_lanes * LANE_HEIGHT + 4
    bars = tuple(Bar(axis.x(a), round(max(axis.x(b) - axis.x(a), 1.0), 2), kind) for a, b, kind in cycle.spans)
    markers = _markers(cycle, axis, describe)
    ticks = _ticks(axis, days)
    lanes = max((m.lane for m in markers), default=0) + 1
    height = day_top + DAY_HEIGHT + 6 + lanes * LANE_HEIGHT + 6
    return Chart(axis.hourly, tuple(days), tuple(bands), bars, markers, tuple(ticks), day_top, height)
