"""The statutory working-day calendar and the due rule (README.md, Working days: the rule; Civil Code
arts. 201, 203).

Every query is answered from a prefix count of working days over the known years (bisect, so
O(log n)), with closed-form weekday arithmetic outside them. Dates in a year without data are
computed on weekends only and flagged `provisional`, never guessed silently and never an error.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sla.calendar.overlay import YearData
from sla.calendar.timeutil import DAY, ZERO, end_of_day, local_date, require_aware, start_of_day


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    provisional: bool
    calendar_fingerprint: str


@dataclass(frozen=True)
class Span:
    """A length of (working) time and whether it rests on provisional calendar data."""

    length: timedelta
    provisional: bool


def _weekdays_between(start: date, end: date) -> int:
    """Mon–Fri dates in [start, end); negative when end < start."""
    if end < start:
        return -_weekdays_between(end, start)
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    first = start.weekday()
    count += sum(1 for i in range(rest) if (first + i) % 7 < 5)
    return count


def _nth_weekday_from(start: date, n: int) -> date:
    """The n-th Mon–Fri date on or after `start` (n >= 1)."""
    day = start
    while day.weekday() >= 5:
        day += DAY
    weeks, rest = divmod(n - 1, 5)
    day += timedelta(weeks=weeks)
    while rest:
        day += DAY
        if day.weekday() < 5:
            rest -= 1
    return day


def _nth_weekday_back_from(start: date, n: int) -> date:
    """The n-th Mon–Fri date strictly before `start` (n >= 1)."""
    day = start - DAY
    while day.weekday() >= 5:
        day -= DAY
    weeks, rest = divmod(n - 1, 5)
    day -= timedelta(weeks=weeks)
    while rest:
        day -= DAY
        if day.weekday() < 5:
            rest -= 1
    return day


class WorkingCalendar:
    """Working days from year data; built once, then every query is a lookup."""

    def __init__(self, years: Iterable[YearData]) -> None:
        self.years: dict[int, YearData] = {y.year: y for y in sorted(years, key=lambda y: y.year)}
        if not self.years:
            raise ValueError("a calendar needs at least one year of data")
        self.first = date(min(self.years), 1, 1)
        self.last = date(max(self.years), 12, 31)
        n_days = (self.last - self.first).days + 1
        self._working = bytearray(n_days)
        # _cum[i] = number of working days in [first, first + i)
        self._cum = [0] * (n_days + 1)
        for i in range(n_days):
            day = self.first + timedelta(days=i)
            data = self.years.get(day.year)
            if data is None:
                working = day.weekday() < 5
            else:
                working = day in data.makeup_workdays or (day.weekday() < 5 and day not in data.holidays)
            self._working[i] = working
            self._cum[i + 1] = self._cum[i] + working
        self._names = {day: name for data in self.years.values() for day, name in data.names}
        self.fingerprint = hashlib.sha256(
            "\n".join(self.years[y].canonical() for y in sorted(self.years)).encode()
        ).hexdigest()[:16]

    # -- coverage --------------------------------------------------------------------------------
    def is_provisional_range(self, start: date, end: date) -> bool:
        """True when any year touched by [start, end] has no official data."""
        lo, hi = min(start, end), max(start, end)
        return any(y not in self.years for y in range(lo.year, hi.year + 1))

    # -- days ------------------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if self.first <= day <= self.last:
            return bool(self._working[(day - self.first).days])
        return day.weekday() < 5

    def day_kind(self, day: date) -> str:
        """How the calendar treats a day, for people: work, rest (a weekend), holiday (a statutory day
        off, weekend days inside a holiday span included) or makeup (a weekend day worked, 调休上班)."""
        if self.is_working_day(day):
            return "makeup" if day.weekday() >= 5 else "work"
        return "holiday" if day in self._names or day.weekday() < 5 else "rest"

    def day_name(self, day: date) -> str | None:
        """What the year's data calls the day ("国庆节 National Day"), if anything."""
        return self._names.get(day)

    def _count_before(self, day: date) -> int:
        """Working days in [first, day) (negative for days before `first`)."""
        if day < self.first:
            return -_weekdays_between(day, self.first)
        offset = (day - self.first).days
        if offset <= len(self._working):
            return self._cum[offset]
        return self._cum[-1] + _weekdays_between(self.last + DAY, day)

    def _working_day_of_rank(self, rank: int) -> date:
        """The working day x with exactly `rank - 1` working days in [first, x)."""
        total = self._cum[-1]
        if 1 <= rank <= total:
            return self.first + timedelta(days=bisect_left(self._cum, rank) - 1)
        if rank > total:
            return _nth_weekday_from(self.last + DAY, rank - total)
        return _nth_weekday_back_from(self.first, 1 - rank)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: the days a period from `start` has used by `end`."""
        return self._count_before(end + DAY) - self._count_before(start + DAY)

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day` (n >= 1), or strictly before it (n <= -1)."""
        if n == 0:
            raise ValueError("n must be non-zero")
        if n > 0:
            return self._working_day_of_rank(self._count_before(day + DAY) + n)
        return self._working_day_of_rank(self._count_before(day) + n + 1)

    def next_working_day_on_or_after(self, day: date) -> date:
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    # -- instants --------------------------------------------------------------------------------
    def due_working_days(self, start: datetime, n: int) -> Deadline:
        """24:00 of the n-th working day strictly after start's local date."""
        if n < 1:
            raise ValueError("a period has at least one working day")
        day = local_date(start)
        last_day = self.add_working_days(day, n)
        # Counting starts the next day: the start's own date is never asked whether it is a working day.
        provisional = self.is_provisional_range(day + timedelta(days=1), last_day)
        return Deadline(end_of_day(last_day), provisional, self.fingerprint)

    def due_calendar_days(self, start: datetime, n: int) -> Deadline:
        """24:00 of the n-th day after start's date, moved to the next working day if a rest day."""
        if n < 1:
            raise ValueError("a period has at least one day")
        due_at, provisional = self.period_end(local_date(start) + timedelta(days=n))
        return Deadline(due_at, provisional, self.fingerprint)

    def period_end(self, last_day: date) -> tuple[datetime, bool]:
        """Art. 203: a period whose last day is a rest day ends at 24:00 of the next working day; only
        the days from the last to that one are asked, so only they can make it provisional."""
        moved = self.next_working_day_on_or_after(last_day)
        return end_of_day(moved), self.is_provisional_range(last_day, moved)

    def due_hours(self, start: datetime, n: float) -> Deadline:
        at = require_aware(start) + timedelta(hours=n)
        return Deadline(at, False, self.fingerprint)

    def working_time_between(self, start: datetime, end: datetime) -> Span:
        """Time in [start, end) that falls on working days (24 h per working day)."""
        a, b = require_aware(start), require_aware(end)
        if b <= a:
            return Span(ZERO, False)
        da, db = a.date(), b.date()
        provisional = self.is_provisional_range(da, db)
        if da == db:
            return Span(b - a if self.is_working_day(da) else ZERO, provisional)
        total = ZERO
        if self.is_working_day(da):
            total += end_of_day(da) - a
        total += DAY * self.working_days_between(da, db - DAY)
        if self.is_working_day(db):
            total += b - start_of_day(db)
        return Span(total, provisional)

    def add_working_time(self, start: datetime, amount: timedelta) -> tuple[datetime, bool]:
        """The earliest instant x with working_time_between(start, x) == amount, and provisional."""
        at = require_aware(start)
        if amount <= ZERO:
            return at, False
        day = at.date()
        remaining = amount
        if self.is_working_day(day):
            rest_of_day = end_of_day(day) - at
            if remaining <= rest_of_day:
                return at + remaining, self.is_provisional_range(day, day)
            remaining -= rest_of_day
        full_days, partial = divmod(remaining, DAY)
        if partial == ZERO:
            last_day = self.add_working_days(day, int(full_days))
            result = end_of_day(last_day)
        else:
            last_day = self.add_working_days(day, int(full_days) + 1)
            result = start_of_day(last_day) + partial
        return result, self.is_provisional_range(day, last_day)
