"""Compliance per vendor x service x clock x owing party, from closed clock outcomes (counted, with
working days used); and the calendar month in Asia/Shanghai a month's figures count."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import floor

from sla.calendar.timeutil import SHANGHAI
from sla.engine.model import Outcome

# compliance = met / (met + breached); exempt and cancelled are not graded
GRADED: tuple[str, ...] = (Outcome.MET, Outcome.BREACHED)


@dataclass(frozen=True)
class OutcomeCount:
    """`count` clocks of one series closed with `outcome`."""

    vendor_id: str
    service_id: str
    clock_id: str
    party: str  # who owes the clock (sla.catalog.model.Party)
    outcome: str  # met | breached | exempt | cancelled
    count: int = 1


@dataclass(frozen=True)
class WorkingDaysUsed:
    """`count` graded (met or breached) clocks of a series that each used `working_days`."""

    vendor_id: str
    service_id: str
    clock_id: str
    party: str
    working_days: float
    count: int = 1


@dataclass(frozen=True)
class ComplianceLine:
    vendor_id: str
    service_id: str
    clock_id: str
    met: int
    breached: int
    exempt: int
    cancelled: int
    compliance: float | None  # met / (met + breached); None when nothing was graded
    working_days_p50: float | None
    working_days_p90: float | None
    # Who owes the clock: a line owed by the insurer, a lab or a third party is never a vendor's figure.
    party: str
    # For a calendar month only (None otherwise): clocks due in the month, and those of them still
    # undelivered past their due instant at the month's end.
    due: int | None = None
    open_past_due: int | None = None


QUANTILES = (Fraction(1, 2), Fraction(9, 10))  # p50, p90


def interpolated(q: Fraction, total: int, value_at: Callable[[int], float]) -> float | None:
    """The q-quantile of `total` sorted values, interpolated between closest ranks (what
    statistics.quantiles(method="inclusive") gives): `value_at(rank)` reads one value."""
    if total == 0:
        return None
    position = q * (total - 1)
    low_rank = floor(position)
    fraction = position - low_rank
    low = value_at(low_rank)
    high = value_at(low_rank + 1) if fraction else low
    return round(low + (high - low) * float(fraction), 2)


def weighted_percentile(values: Iterable[tuple[float, int]], q: Fraction) -> float | None:
    """The q-quantile (0..1) of values given as (value, how many)."""
    ordered = sorted((v, n) for v, n in values if n > 0)

    def at_rank(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        return ordered[-1][0]

    return interpolated(q, sum(n for _, n in ordered), at_rank)


Series = tuple[str, str, str, str]  # vendor, service, clock, party


OUTCOMES = tuple(o.value for o in Outcome)


def compliance_of(met: int, breached: int) -> float | None:
    """met / (met + breached) to four places; None when nothing was graded."""
    graded = met + breached
    return round(met / graded, 4) if graded else None


def month_line(
    series: Series,
    closed: tuple[int, int, int, int],
    open_due: int,
    open_past_due: int,
    percentiles: tuple[float | None, float | None],
) -> ComplianceLine:
    """A calendar month's line: every clock due in the month counts in `due`, closed (met, breached,
    exempt, cancelled) or still open (`open_due`); `open_past_due`, those undelivered past their due
    instant at the month's end (or now, while the month runs)."""
    vendor, service, clock, party = series
    met, breached, exempt, cancelled = closed
    due = met + breached + exempt + cancelled + open_due
    p50, p90 = percentiles
    share = compliance_of(met, breached)
    return ComplianceLine(
        vendor, service, clock, met, breached, exempt, cancelled, share, p50, p90, party, due, open_past_due
    )


def compliance(
    counts: Iterable[OutcomeCount],
    used_days: Iterable[WorkingDaysUsed] = (),
    percentiles: Mapping[Series, tuple[float | None, float | None]] | None = None,
) -> list[ComplianceLine]:
    """One line per series. Working days come as values (`used_days`) or as p50/p90 worked out
    already (`percentiles`, e.g. by the database from a tally). A calendar month's lines are
    `month_line`'s."""
    # One pass over the counts (a month's report has hundreds of series): series -> outcome -> count.
    groups: dict[Series, dict[str, int]] = defaultdict(dict)
    for item in counts:
        group = groups[(item.vendor_id, item.service_id, item.clock_id, item.party)]
        group[item.outcome] = group.get(item.outcome, 0) + item.count
    days: dict[Series, list[tuple[float, int]]] = defaultdict(list)
    for used_one in used_days:
        series = (used_one.vendor_id, used_one.service_id, used_one.clock_id, used_one.party)
        days[series].append((used_one.working_days, used_one.count))
    lines = []
    for key in sorted(groups):
        vendor, service, clock, party = key
        counted = groups.get(key, {})
        count = {outcome: counted.get(outcome, 0) for outcome in OUTCOMES}
        used = days.get(key, [])
        p50, p90 = (
            percentiles.get(key, (None, None))
            if percentiles is not None
            else tuple(weighted_percentile(used, q) for q in QUANTILES)
        )
        closed = (count["met"], count["breached"], count["exempt"], count["cancelled"])
        share = compliance_of(count["met"], count["breached"])
        lines.append(ComplianceLine(vendor, service, clock, *closed, share, p50, p90, party))
    return lines


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, order=True)
class CalendarMonth:
    """A calendar month in Asia/Shanghai, the period insurers settle with vendors: a clock is in the month
    when its due instant is, after 00:00 +08:00 of the 1st and up to 24:00 of the last day included (a
    deadline ends at 24:00 of its last day, Civil Code art. 203: stored as 00:00 of the next month)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> CalendarMonth:
        """ "YYYY-MM"; ValueError for anything else."""
        found = _MONTH.match(text)
        if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
            raise ValueError(f"a month is YYYY-MM (e.g. 2025-10), got {text!r}")
        return cls(int(found[1]), int(found[2]))

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=SHANGHAI)

    @property
    def end(self) -> datetime:
        return self.shifted(1).start

    @classmethod
    def of_due(cls, instant: datetime) -> CalendarMonth:
        """The month a clock due at `instant` counts in (00:00 on the 1st is 24:00 of the month before)."""
        local = instant.astimezone(SHANGHAI)
        month = cls(local.year, local.month)
        at_midnight = (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
        return month.shifted(-1) if local.day == 1 and at_midnight else month

    def shifted(self, months: int) -> CalendarMonth:
        index = self.year * 12 + self.month - 1 + months
        return CalendarMonth(index // 12, index % 12 + 1)

    def before(self, count: int) -> list[CalendarMonth]:
        """The `count` months before this one, oldest first."""
        return [self.shifted(-n) for n in range(count, 0, -1)]

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
