"""Statutory working days of mainland China and the due rule."""

from sla.calendar.overlay import NoticeSource, YearData, parse_overlay
from sla.calendar.timeutil import SHANGHAI, require_aware
from sla.calendar.working import Deadline, Span, WorkingCalendar

__all__ = [
    "SHANGHAI",
    "Deadline",
    "NoticeSource",
    "Span",
    "WorkingCalendar",
    "YearData",
    "parse_overlay",
    "require_aware",
]
