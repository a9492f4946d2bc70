"""Tables of the read model. Temporal is the source of truth for a running request; these rows
are its projection, written idempotently (revision guards, unique keys) by activities."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import AwareDateTime


class RequestRow(SQLModel, table=True):
    __tablename__ = "request"

    id: str = Field(primary_key=True)
    service_id: str = Field(index=True)
    catalog_version: int
    catalog_digest: str
    insurer_id: str = Field(index=True)
    vendor_id: str = Field(index=True)
    external_ref: str | None = Field(default=None, index=True)
    status: str = Field(index=True)  # open | completed | cancelled
    opened_at: datetime = Field(index=True, sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    revision: int
    calendar_fingerprint: str
    calendar_sources: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    pinned_terms: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Personal data, AES-GCM sealed with the payload keys (runtime.codec): never in clear at rest.
    sealed_personal_data: str | None = None
    updated_at: datetime = Field(sa_type=AwareDateTime)


class ClockRow(SQLModel, table=True):
    __tablename__ = "request_clock"

    request_id: str = Field(primary_key=True, foreign_key="request.id")
    clock_id: str = Field(primary_key=True)
    insurer_id: str = Field(index=True)
    vendor_id: str = Field(index=True)
    service_id: str = Field(index=True)
    state: str = Field(index=True)
    outcome: str | None = None
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    due_at: datetime | None = Field(default=None, index=True, sa_type=AwareDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    breached_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    late_by_seconds: int | None = None
    budget_seconds: int
    elapsed_seconds: int
    working_days_used: float
    provisional: bool = Field(index=True)
    cycle: int
    # The instant of the clock's last warning: from then until due_at the clock is "at risk".
    at_risk_from: datetime | None = Field(default=None, index=True, sa_type=AwareDateTime)
    thresholds: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    timeline: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


class EventRow(SQLModel, table=True):
    __tablename__ = "request_event"

    request_id: str = Field(primary_key=True, foreign_key="request.id")
    seq: int = Field(primary_key=True)
    type: str
    occurred_at: datetime = Field(sa_type=AwareDateTime)
    received_at: datetime = Field(sa_type=AwareDateTime)
    sender: str
    idempotency_key: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ClockOutcomeRow(SQLModel, table=True):
    """One row per clock outcome: metrics and reports count these, so the key is unique."""

    __tablename__ = "clock_outcome"
    __table_args__ = (UniqueConstraint("request_id", "clock_id", name="uq_outcome_per_clock"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    clock_id: str
    insurer_id: str = Field(index=True)
    vendor_id: str = Field(index=True)
    service_id: str = Field(index=True)
    outcome: str = Field(index=True)  # met | breached | exempt | cancelled
    outcome_at: datetime = Field(sa_type=AwareDateTime)  # the instant it happened: stop time, or due_at for a breach
    due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    working_days_used: float
    late_by_seconds: int | None = None
    recorded_at: datetime = Field(
        sa_type=AwareDateTime
    )  # when the projection wrote it (breach detection delay = recorded - due)
    corrected: bool = False


class ThresholdRow(SQLModel, table=True):
    __tablename__ = "clock_threshold"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    cycle: int = Field(primary_key=True)
    fraction: float = Field(primary_key=True)
    fired_at: datetime = Field(sa_type=AwareDateTime)
    recorded_at: datetime = Field(sa_type=AwareDateTime)


class CorrectionRow(SQLModel, table=True):
    __tablename__ = "outcome_correction"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    at: datetime = Field(primary_key=True, sa_type=AwareDateTime)
    previous: str
    current: str | None
    reason: str


class RecomputeRow(SQLModel, table=True):
    __tablename__ = "clock_recompute"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    at: datetime = Field(primary_key=True, sa_type=AwareDateTime)
    old_due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    new_due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    old_provisional: bool
    new_provisional: bool
    reason: str


class HistoryArchiveRow(SQLModel, table=True):
    """The workflow history, kept after Temporal's retention (payloads stay encrypted)."""

    __tablename__ = "request_history"

    request_id: str = Field(primary_key=True)
    workflow_id: str
    run_id: str
    event_count: int
    sha256: str
    history_json: str
    archived_at: datetime = Field(sa_type=AwareDateTime)


class ApiKeyRow(SQLModel, table=True):
    """API keys, stored hashed: `sk_<key_id>_<secret>`; only sha256(secret) is kept."""

    __tablename__ = "api_key"

    key_id: str = Field(primary_key=True)
    secret_sha256: str
    role: str  # coordinator | operations | auditor | admin
    vendor_id: str | None = None
    insurer_id: str | None = None
    label: str = ""
    created_at: datetime = Field(sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class VendorRow(SQLModel, table=True):
    __tablename__ = "vendor"

    id: str = Field(primary_key=True)
    name: str


class CalendarOverlayRow(SQLModel, table=True):
    """A year loaded by an operator (PUT /v1/calendar/{year}); read by every worker's activities."""

    __tablename__ = "calendar_overlay"

    year: int = Field(primary_key=True)
    document: str  # the overlay YAML as validated
    loaded_by: str
    loaded_at: datetime = Field(sa_type=AwareDateTime)
