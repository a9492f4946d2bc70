"""Compliance per vendor x service x clock, from closed clock outcomes (counted, with working days used)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from sla.engine.model import Outcome

# compliance = met / (met + breached); exempt and cancelled are not graded
GRADED: tuple[str, ...] = (Outcome.MET, Outcome.BREACHED)


@dataclass(frozen=True)
class OutcomeCount:
    """`count` clocks of one series closed with `outcome`."""

    vendor_id: str
    service_id: str
    clock_id: str
    outcome: str  # met | breached | exempt | cancelled
    count: int = 1


@dataclass(frozen=True)
class WorkingDaysUsed:
    """`count` graded (met or breached) clocks of a series that each used `working_days`."""

    vendor_id: str
    service_id: str
    clock_id: str
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


Series = tuple[str, str, str]  # vendor, service, clock


def compliance(
    counts: Iterable[OutcomeCount],
    used_days: Iterable[WorkingDaysUsed] = (),
    percentiles: Mapping[Series, tuple[float | None, float | None]] | None = None,
) -> list[ComplianceLine]:
    """One line per series. Working days come as values (`used_days`) or as p50/p90 worked out
    already (`percentiles`, e.g. by the database from a tally)."""
    groups: dict[tuple[str, str, str], list[OutcomeCount]] = defaultdict(list)
    for item in counts:
        groups[(item.vendor_id, item.service_id, item.clock_id)].append(item)
    days: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
    for used_one in used_days:
        series = (used_one.vendor_id, used_one.service_id, used_one.clock_id)
        days[series].append((used_one.working_days, used_one.count))
    lines = []
    for (vendor, service, clock), group in sorted(groups.items()):
        count = {o.value: sum(g.count for g in group if g.outcome == o) for o in Outcome}
        graded = count["met"] + count["breached"]
        used = days.get((vendor, service, clock), [])
        lines.append(
            ComplianceLine(
                vendor,
                service,
                clock,
                count["met"],
                count["breached"],
                count["exempt"],
                count["cancelled"],
                round(count["met"] / graded, 4) if graded else None,
                *(
                    percentiles.get((vendor, service, clock), (None, None))
                    if percentiles is not None
                    else tuple(weighted_percentile(used, q) for q in QUANTILES)
                ),
            )
        )
    return lines
