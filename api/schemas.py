"""Request and response bodies. Identifiers are constrained, so odd strings never reach a query."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from api.derived import model_of
from api.instants import BusinessInstant, Instant
from sla.engine.model import Advisory, ClockState, ClockView, RecordedEvent
from sla.event_data import (
    INSTANCE,
    INSTANCE_EVENTS,
    INSTANT_KEYS,
    INSTANT_RULE,
    MAX_INSTANCE,
    MAX_NOTE_CHARS,
    NOTE,
)
from sla.events import RequestStatus

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
ServiceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length=128)]


def _business_day(value: date) -> date:
    if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("must lie between 2000-01-01 and 2100-12-31")
    return value


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


# The clock, the event and the advisory of a view are the domain's own types (sla.engine), derived:
# a field added there reaches the API with no change here (api/derived.py).
if TYPE_CHECKING:
    ClockOut = BaseModel
    EventOut = BaseModel
    AdvisoryOut = BaseModel
    ClockSummary = BaseModel
else:
    ClockOut = model_of(
        ClockView,
        "ClockOut",
        exclude=frozenset({"timeline", "next_wake_at"}),  # the audit pack has the timeline
        retype={
            "state": (
                ClockState,
                Field(description="the engine's state, breached the moment due_at passes (at_risk is a flag)"),
            ),
            "remaining_seconds": (
                int | None,
                Field(default=None, description="working time for working-day clocks; frozen while paused"),
            ),
        },
        extra={
            "name_zh": (str, ...),
            "name_en": (str, ...),
            "party": (str, ...),
            "duration": (str, ...),
            "at_risk": (bool, ...),
            "source": (str, ...),
        },
        doc="One clock of a request as its view shows it: the engine's ClockView at the moment of the request.",
    )
    EventOut = model_of(RecordedEvent, "EventOut", exclude=frozenset({"idempotency_key"}))
    AdvisoryOut = model_of(Advisory, "AdvisoryOut")
    ClockSummary = model_of(
        ClockView,
        "ClockSummary",
        include=("clock_id", "instance", "state", "due_at", "provisional"),
        extra={"at_risk": (bool, ...)},
    )


class CorrectionReviewOut(BaseModel):
    """An event held for the insurer's review (sla/engine/review.py): it counts only once accepted."""

    correction_id: str
    event_seq: int
    event_type: str
    occurred_at: Instant
    received_at: Instant | None
    sender: str
    rule: str = Field(description="correction.reverses_breach | correction.recorded_late")
    reason: str
    changes: list[dict[str, Any]] = Field(description="per clock: its state as it stands, and with the event")
    held_at: Instant
    status: str = Field(description="pending | accepted | rejected")
    decided_by: str | None
    decided_at: Instant | None
    note: str


class CorrectionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000, description="why (kept in the audit trail)")


class RequestOut(BaseModel):
    id: str
    service_id: str
    insurer_id: str
    vendor_id: str
    status: RequestStatus
    opened_at: Instant
    closed_at: Instant | None = Field(description="the effective time of the closing event")
    closed_received_at: Instant | None = Field(default=None, description="when the closing event was sent")
    external_ref: str | None
    revision: int
    calendar_fingerprint: str
    clocks: list[ClockOut]
    events: list[EventOut]
    advisories: list[AdvisoryOut] = []
    # Held events and the insurer's decisions on them: a pending one changes nothing until accepted.
    correction_reviews: list[CorrectionReviewOut] = []


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


# Constrained strings: pydantic then checks them as Unicode, so a lone surrogate is a 422 here instead of
# a 500 when the overlay is hashed into the calendar fingerprint.
NoticeText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Day = Annotated[str, StringConstraints(max_length=32)]  # parse_overlay says what a day must be
Days = Annotated[list[Day], Field(max_length=366)]


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: NoticeText
    number: NoticeText
    date: Day


class OverlayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: NoticeIn
    holidays: Days = []
    makeup_workdays: Days = []
