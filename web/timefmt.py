"""Instants as a person in China reads them: Asia/Shanghai, +08:00 said once. Pure (no I/O, no clock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sla.calendar.timeutil import SHANGHAI

WEEKDAYS_ZH = "一二三四五六日"


def local(value: datetime | str) -> datetime:
    """An instant (or the RFC 3339 text the API gives) in Asia/Shanghai."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(SHANGHAI)


def instant_text(value: datetime | str | None) -> str:
    """2025-10-09 14:30 +08:00 (seconds only when there are some)."""
    if value is None:
        return "—"
    at = local(value)
    clock = at.strftime("%H:%M:%S" if at.second else "%H:%M")
    return f"{at:%Y-%m-%d} {clock} +08:00"


def due_text(value: datetime | str | None) -> str:
    """A due instant: midnight is written as 24:00 of the day before, as the manuals and art. 203
    say it ("the last day ends at 24:00"), so the date shown is the last day of the period."""
    if value is None:
        return "—"
    at = local(value)
    if (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0):
        day = at - timedelta(days=1)
        return f"{day:%Y-%m-%d} 24:00 +08:00 (周{WEEKDAYS_ZH[day.weekday()]})"
    return f"{instant_text(at)} (周{WEEKDAYS_ZH[at.weekday()]})"


def duration_text(seconds: int | None) -> str:
    """A length of working time: 3 d 4 h 5 min (days of 24 working hours, as the engine counts)."""
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    rest = abs(int(seconds))
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return sign + " ".join(parts)
