"""Compliance per vendor x service x clock, from closed clock outcomes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import quantiles


@dataclass(frozen=True)
class OutcomeFact:
    vendor_id: str
    service_id: str
    clock_id: str
    outcome: str  # met | breached | exempt | cancelled
    working_days_used: float


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


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return round(quantiles(values, n=100, method="inclusive")[q - 1], 2)


def compliance(facts: Iterable[OutcomeFact]) -> list[ComplianceLine]:
    groups: dict[tuple[str, str, str], list[OutcomeFact]] = defaultdict(list)
    for fact in facts:
        groups[(fact.vendor_id, fact.service_id, fact.clock_id)].append(fact)
    lines = []
    for (vendor, service, clock), group in sorted(groups.items()):
        count = {o: sum(f.outcome == o for f in group) for o in ("met", "breached", "exempt", "cancelled")}
        graded = count["met"] + count["breached"]
        used = sorted(f.working_days_used for f in group if f.outcome in ("met", "breached"))
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
                _percentile(used, 50),
                _percentile(used, 90),
            )
        )
    return lines
