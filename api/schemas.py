"""Request and response bodies. Identifiers are constrained, so odd strings never reach a query."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from sla.calendar.timeutil import SHANGHAI
from sla.event_data import (
    INSTANCE,
    INSTANCE_EVENTS,
    INSTANT_KEYS,
    INSTANT_RULE,
    MAX_INSTANCE,
    MAX_NOTE_CHARS,
    NOTE,
    instant_in_range,
    parse_instant,
)

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
ServiceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length=128)]


def _business_instant(value: object) -> object:
    """The domain's one rule for instants (sla.event_data): an RFC 3339 string with an offset, inside the
    range a business date can have. A number is refused, not read as epoch time: its unit (seconds or
    milliseconds) would be a guess, and the offset the coordinator meant is lost."""
    if isinstance(value, datetime):  # built in code, not parsed from a request
        if not instant_in_range(value):
            raise ValueError(f"must be {INSTANT_RULE}")
        return value
    return parse_instant(value)


# Every instant the API takes, in a body or a query.
BusinessInstant = Annotated[AwareDatetime, BeforeValidator(_business_instant)]


def _business_day(value: date) -> date:
    if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("must lie between 2000-01-01 and 2100-12-31")
    return value


# Every instant the API returns: RFC 3339 with the +08:00 offset, whatever offset it was stored in.
Instant = Annotated[
    datetime, PlainSerializer(lambda value: value.astimezone(SHANGHAI).isoformat(), return_type=str, when_used="json")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InsuredIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    id_number: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{6,32}$")]


def _event_data_schema() -> dict[str, Any]:
    """The OpenAPI view of sla.event_data: every key some event takes, and which events take it."""

    def events(kinds: frozenset[Any]) -> str:
        return ", ".join(sorted(kinds))

    instant = {"type": "string", "format": "date-time"}
    properties: dict[str, Any] = {
        NOTE: {"type": "string", "maxLength": MAX_NOTE_CHARS, "description": "free text; any event"},
        INSTANCE: {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_INSTANCE,
            "description": f"the occurrence a per-occurrence clock's stop closes; {events(INSTANCE_EVENTS)}",
        },
        **{key: instant | {"description": f"{INSTANT_RULE}; {events(kinds)}"} for key, kinds in INSTANT_KEYS.items()},
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


_EVENT_DATA_SCHEMA = _event_data_schema()


class EventCreate(Strict):
    type: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,64}$")]
    occurred_at: BusinessInstant = Field(description="effective time, with an offset; never in the future")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="only the keys the domain reads, per event type (sla/event_data.py); checked before the event "
        "is sent to its workflow",
        json_schema_extra=lambda schema: schema.update(_EVENT_DATA_SCHEMA),
    )


class RequestCreate(Strict):
    service_id: ServiceId
    vendor_id: Identifier
    policy_no: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z-]{4,64}$")]
    insured: InsuredIn
    opened_at: BusinessInstant | None = Field(default=None, description="defaults to now; never in the future")
    external_ref: Identifier | None = Field(
        default=None, description="the vendor's own reference; opening twice with it returns the first request"
    )
    events: list[EventCreate] = Field(
        default_factory=list,
        max_length=200,
        description="past events of a request moved over from elsewhere, in the order they happened: "
        "checked one by one as if sent then, and planned together, so the first plan already holds "
        "the outcomes they imply",
    )
    policy_year_start: Annotated[date, AfterValidator(_business_day)] | None = Field(
        default=None,
        description="first day of the policy year the request counts in (the policy's anniversary); "
        "default: 1 January of the opening date's year in Asia/Shanghai",
    )
    quota_override_reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=500)] | None
    ) = Field(
        default=None,
        description="admin only: open although the service's quota for the policy year is used up; "
        "recorded in the audit pack",
    )


class ThresholdOut(BaseModel):
    fraction: float
    at: Instant | None
    fired: bool
    label: str = ""


class AdvisoryOut(BaseModel):
    """A customer-side recommendation this request does not keep: shown, never a refusal."""

    rule: str
    message: str
    source: str
    event_seq: int
    at: Instant
    limit: Instant


class ClockOut(BaseModel):
    clock_id: str
    name_zh: str
    name_en: str
    party: str
    duration: str
    state: str = Field(description="pending|running|paused|met|breached|exempt|cancelled (breached from due_at)")
    at_risk: bool
    started_at: Instant | None
    due_at: Instant | None
    stopped_at: Instant | None
    breached_at: Instant | None
    late_by_seconds: int | None
    remaining_seconds: int | None = Field(description="in the clock's own measure (working time for working days)")
    working_days_used: float
    provisional: bool
    cycle: int
    instance: int = Field(default=1, description="1, or the occurrence of a per-occurrence clock")
    paused_at: Instant | None = None
    thresholds: list[ThresholdOut]
    source: str


class EventOut(BaseModel):
    seq: int
    type: str
    occurred_at: Instant
    received_at: Instant
    sender: str
    data: dict[str, Any]


class RequestOut(BaseModel):
    id: str
    service_id: str
    insurer_id: str
    vendor_id: str
    status: Literal["open", "completed", "cancelled"]
    opened_at: Instant
    closed_at: Instant | None = Field(description="the effective time of the closing event")
    closed_received_at: Instant | None = Field(default=None, description="when the closing event was sent")
    external_ref: str | None
    revision: int
    calendar_fingerprint: str
    clocks: list[ClockOut]
    events: list[EventOut]
    advisories: list[AdvisoryOut] = []


class ClockSummary(BaseModel):
    clock_id: str
    instance: int = 1
    state: str
    at_risk: bool
    due_at: Instant | None
    provisional: bool


class RequestSummary(BaseModel):
    id: str
    service_id: str
    insurer_id: str
    vendor_id: str
    status: str
    opened_at: Instant
    clocks: list[ClockSummary]


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None


class DueOut(BaseModel):
    start: Instant
    due_at: Instant
    provisional: bool
    calendar_fingerprint: str


class CalendarYearOut(BaseModel):
    year: int
    official: bool
    source: str | None
    origin: str | None
    holidays: list[str]
    makeup_workdays: list[str]
    calendar_fingerprint: str


class ClockMove(BaseModel):
    request_id: str
    clock_id: str
    old_due_at: Instant | None
    new_due_at: Instant | None
    moved_by_seconds: int | None
    old_provisional: bool
    new_provisional: bool


class CalendarLoadOut(BaseModel):
    year: int
    dry_run: bool
    calendar_fingerprint: str
    moves: list[ClockMove]
    requests_signalled: int


class ServiceOut(BaseModel):
    id: str
    version: int
    insurer: str
    insurer_name: str
    name_zh: str
    name_en: str
    source: str
    eligibility: str
    quota_per_policy_year: int | None
    quota_note: str
    availability: str
    accepts: list[str]
    clocks: list[dict[str, Any]]
    customer_windows: list[dict[str, Any]]
