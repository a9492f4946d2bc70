"""The catalog as typed, immutable data: services, their clocks and customer windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction

from sla.events import EventType
from sla.units.base import DurationUnit as DurationUnit  # defined with the unit strategies; named here too
from sla.units.select import CLOCK_UNITS as CLOCK_UNITS
from sla.units.select import WINDOW_UNITS as WINDOW_UNITS
from sla.units.select import measure_class


class Party(StrEnum):
    """Who owes a clock: compliance is counted per party, so an insurer's or a hospital's delay never
    counts against the vendor."""

    VENDOR = "vendor"
    INSURER = "insurer"
    LAB = "lab"
    HOSPITAL = "hospital"
    THIRD_PARTY = "third_party"  # e.g. a regulator


@dataclass(frozen=True)
class Source:
    document: str  # "004" = seeds/raw/004_*.txt
    lines: str  # "67, 90" or "L3138"

    def cite(self) -> str:
        return f"[{self.document}:{self.lines}]"


@dataclass(frozen=True)
class Duration:
    unit: DurationUnit
    amount: int

    def describe(self) -> str:
        return measure_class(self.unit).describe(self.amount)


@dataclass(frozen=True)
class WarnThreshold:
    """A warning before the due instant, exact: `share` of the budget, or `after` of the clock's own unit.

    `after` (e.g. 5 working days of a 10-working-day clock) is the commitment's lower bound as the manual
    states it; `share` is then exactly after / duration. A warning is never a float.
    """

    share: Fraction
    after: Duration | None = None

    @property
    def label(self) -> str:
        if self.after is not None:
            return f"after {self.after.describe()}"
        return f"{self.share.numerator}/{self.share.denominator} of the budget"


DEFAULT_WARNINGS = (WarnThreshold(Fraction(1, 2)), WarnThreshold(Fraction(4, 5)))


@dataclass(frozen=True)
class ClockNotice:
    """A customer's notice the commitment depends on (001:L566 客户出院前(至少提早一天)通知我司).

    The latest `event` at or before the clock's start (and after the previous occurrence's start, for a
    per-occurrence clock) must be no later than `lead` before the start (24:00 of the day before, for
    `calendar_days: 1`). Without it, or late, the commitment was never owed: the clock closes exempt at
    its start, with the reason on its timeline.
    """

    event: EventType
    lead: Duration


@dataclass(frozen=True)
class ClockSpec:
    id: str
    name_zh: str
    name_en: str
    party: Party
    duration: Duration
    start_all_of: tuple[EventType, ...]
    stop: tuple[EventType, ...]
    source: Source
    # Display only (fractions of the budget as floats); the engine reads `thresholds()`.
    warn_at: tuple[float, ...] = (0.5, 0.8)
    pause: tuple[EventType, ...] = ()
    resume: tuple[EventType, ...] = ()
    restart: tuple[EventType, ...] = ()
    exempt: tuple[EventType, ...] = ()
    notes: str = ""
    warnings: tuple[WarnThreshold, ...] | None = None  # exact; None = derived from warn_at
    # Each occurrence of the (single) start event opens its own instance with its own due, stop and
    # outcome. A stop or exempt event closes the instance named by its data `instance` (1, 2, ...), or
    # else the oldest open one.
    per_occurrence: bool = False
    # The manual's own words at `source` (its cited lines, verbatim, one per line): what an auditor signs.
    quote: str = ""
    # The start events count only in the order listed (each after the one before it), and a stop counts
    # only after the start: for a step that answers the one before (work after the start notice, 002:L471).
    in_order: bool = False
    # Events showing the commitment was never owed (out of scope; a positive verdict where only a negative
    # one owes a notice, 001:L552): they close the clock exempt whenever they come, before its start or
    # past its due (a breach is then withdrawn), unless it was already met or delivered.
    void: tuple[EventType, ...] = ()
    notice: ClockNotice | None = None
    # Which step of the manual's flow starts it, and why that one and not an earlier one (zh, en): the
    # answer an insurer signs off, shown with the generated terms.
    start_step: tuple[str, str] = ("", "")

    def events(self) -> set[EventType]:
        notice = {self.notice.event} if self.notice else set()
        return {
            *self.start_all_of,
            *self.stop,
            *self.pause,
            *self.resume,
            *self.restart,
            *self.exempt,
            *self.void,
            *notice,
        }

    def thresholds(self) -> tuple[WarnThreshold, ...]:
        if self.warnings is not None:
            return self.warnings
        # A spec built without exact warnings: read each float as the decimal it was written as.
        return tuple(WarnThreshold(Fraction(str(f))) for f in self.warn_at)


class WindowKind(StrEnum):
    LEAD_TIME = "lead_time"  # `event` no later than N before the instant in `reference`
    WITHIN_AFTER = "within_after"  # `event` no later than N after the instant in `reference`
    FORBIDDEN_AFTER = "forbidden_after"  # `event` not allowed once `reference` happened


@dataclass(frozen=True)
class WindowReference:
    event: EventType
    field: str | None = None  # an ISO instant in that event's data; None = its occurred_at
    any_of: tuple[EventType, ...] = ()  # forbidden_after: further events that mark the same point

    @property
    def events(self) -> tuple[EventType, ...]:
        return (self.event, *self.any_of)


@dataclass(frozen=True)
class CustomerWindow:
    id: str
    kind: WindowKind
    event: EventType
    reference: WindowReference
    description: str
    source: Source
    duration: Duration | None = None
    cutoff: str | None = None  # "16:00": a lead-time deadline falls at this time, not 24:00
    # The subject's instant: an ISO instant in the event's data (e.g. the visit's appointment_at);
    # None = the event's occurred_at.
    event_field: str | None = None
    # Advisory windows never refuse an event: `sla.engine.rules.advisories` reports them on the request.
    advisory: bool = False
    # The manual's own words at `source` (its cited lines, verbatim, one per line).
    quote: str = ""

    @property
    def needs_calendar(self) -> bool:
        return self.kind is not WindowKind.FORBIDDEN_AFTER


@dataclass(frozen=True)
class ServiceEntry:
    id: str
    version: int
    insurer: str
    insurer_name: str
    vendor_hint: str | None
    name_zh: str
    name_en: str
    source: Source
    eligibility: str
    quota_per_policy_year: int | None
    quota_note: str
    accepts: frozenset[EventType]
    clocks: tuple[ClockSpec, ...]
    windows: tuple[CustomerWindow, ...] = ()
    availability: str = ""
    notes: str = ""
    origin: str = field(default="", compare=False)  # file the entry came from

    def clock(self, clock_id: str) -> ClockSpec:
        for spec in self.clocks:
            if spec.id == clock_id:
                return spec
        raise KeyError(clock_id)
