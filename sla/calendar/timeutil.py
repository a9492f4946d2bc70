"""Instants and local dates in China Standard Time.

China has used UTC+08:00 without daylight saving since 1991, so a fixed offset is exact for every
date this service handles and needs no tz database (which a workflow sandbox would have to load).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sla.errors import NaiveDatetimeError

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY = timedelta(days=1)
ZERO = timedelta(0)


def require_aware(instant: datetime, what: str = "instant") -> datetime:
    """Return `instant` in Asia/Shanghai; reject naive datetimes (their zone would be a guess)."""
    if instant.tzinfo is None or instant.tzinfo.utcoffset(instant) is None:
        raise NaiveDatetimeError(
            f"{what} {instant.isoformat()} has no timezone; send an offset such as +08:00",
            source="README.md, Working days: the rule: timezone-aware instants only",
        )
    return instant.astimezone(SHANGHAI)


def iso_duration(span: timedelta) -> str:
    """ISO 8601: P1DT11H, PT36M12S, -PT5S; P0D for nothing. Days are 24 h (the span is elapsed or
    working time, never a calendar month)."""
    seconds = int(span.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return f"{sign}P{text or '0D'}"


def local_date(instant: datetime) -> date:
    return require_aware(instant).date()


def start_of_day(day: date) -> datetime:
    """00:00 of `day` in Asia/Shanghai (also 24:00 of the day before)."""
    return datetime.combine(day, time(0), SHANGHAI)


def end_of_day(day: date) -> datetime:
    """24:00 of `day`, written as 00:00 of the next day."""
    return start_of_day(day + DAY)
