"""The catalog as typed, immutable data: services, their clocks and customer windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sla.events import EventType


class DurationUnit(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"
    HOURS = "hours"


class Party(StrEnum):
    VENDOR = "vendor"
    INSURER = "insurer"
    LAB = "lab"
    THIRD_PARTY = "third_party"


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
        return f"{self.amount} {self.unit.value.replace('_', ' ')}"


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
    warn_at: tuple[float, ...] = (0.5, 0.8)
    pause: tuple[EventType, ...] = ()
    resume: tuple[EventType, ...] = ()
    restart: tuple[EventType, ...] = ()
    exempt: tuple[EventType, ...] = ()
    notes: str = ""

    def events(self) -> set[EventType]:
        return {*self.start_all_of, *self.stop, *self.pause, *self.resume, *self.restart, *self.exempt}


class WindowKind(StrEnum):
    LEAD_TIME = "lead_time"  # `event` no later than N before the instant in `reference`
    WITHIN_AFTER = "within_after"  # `event` no later than N after the instant in `reference`
    FORBIDDEN_AFTER = "forbidden_after"  # `event` not allowed once `reference` happened


@dataclass(frozen=True)
class WindowReference:
    event: EventType
    field: str | None = None  # an ISO instant in that event's data; None = its occurred_at


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
