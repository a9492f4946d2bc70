"""The scorecard's trend: one bar per month, its compliance (met / (met + breached)) as the bar's height,
drawn as SVG on the server (no script). Only geometry and labels here; the figures come from the
scorecard (api/scorecard.py)."""

from __future__ import annotations

from dataclasses import dataclass

from api.scorecard import TrendPoint

WIDTH, HEIGHT = 420, 150
TOP, BASELINE = 24, 112  # the plot's 100 % and 0 % lines
LEFT, SLOT, BAR = 36, 64, 36  # the first slot's left edge, a month's slot, a bar's width


@dataclass(frozen=True)
class Bar:
    month: str  # "2025-09"
    x: float  # the bar's left edge
    y: float  # its top
    height: float
    width: float
    centre: float
    value: str  # "66.67 %", or "—" when nothing was graded
    graded: int  # met + breached
    breached: int


def percent(compliance: float | None) -> str:
    """A compliance ratio as the pages print it: the API's 4 decimals as a percentage with 2."""
    return "—" if compliance is None else f"{compliance * 100:.2f} %"


def trend_bars(points: list[TrendPoint]) -> list[Bar]:
    bars = []
    for index, point in enumerate(points):
        share = point.compliance
        height = 0.0 if share is None else round((BASELINE - TOP) * share, 1)
        x = LEFT + index * SLOT + (SLOT - BAR) / 2
        bars.append(
            Bar(
                str(point.month),
                x,
                BASELINE - height,
                height,
                BAR,
                x + BAR / 2,
                percent(share),
                point.met + point.breached,
                point.breached,
            )
        )
    return bars
