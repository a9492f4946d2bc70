"""个月: the corresponding date N months on (Civil Code art. 202), art. 203 for a rest day. Windows only."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, datetime

from sla.calendar.timeutil import end_of_day, local_date
from sla.calendar.working import Deadline
from sla.units.base import DurationUnit, WindowMeasure, at_cutoff


def add_months(day: date, months: int) -> date:
    """The corresponding date `months` on (or back); the month's last day when it has none (art. 202)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = month_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class CalendarMonths(WindowMeasure):
    """N months: 24:00 of the corresponding date, moved to the next working day when it is a rest day.
    Not a clock unit: no manual counts an SLA in months, and a month has no fixed budget to pause."""

    unit = DurationUnit.CALENDAR_MONTHS

    def due(self, start: datetime) -> Deadline:
        day = local_date(start)
        last_day = self.calendar.next_working_day_on_or_after(add_months(day, self.amount))
        provisional = self.calendar.is_provisional_range(day, last_day)
        return Deadline(end_of_day(last_day), provisional, self.calendar.fingerprint)

    def latest_before(self, reference: datetime, cutoff: str | None) -> datetime:
        return at_cutoff(add_months(local_date(reference), -self.amount), cutoff)
