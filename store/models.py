"""Tables of the read model. Temporal is the source of truth for a running request; these rows are
its projection, written by the `advance_request` activity (activities/projection.py).

Rules the tables encode (README.md, The read model):
- a request row carries the position of the write that produced it (run, history length,
  revision, attempt), so a retried, late or abandoned write never replaces a newer one;
- child rows are keyed by (request, seq) and (request, clock, instance[, cycle]), so a write is an
  upsert and a retry is a no-op;
- the tallies that /metrics and the compliance report read are kept in the same transaction as the
  rows they count, so a scrape reads O(series) rows, not O(requests);
- every filter the API offers has an index whose order is the list's order (newest first).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Column, Index, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from store.types import AwareDateTime


class RequestRow(SQLModel, table=True):
    __tablename__ = "request"
    __table_args__ = (
        Index("ix_request_opened", "opened_at", "id"),
        Index("ix_request_vendor_opened", "vendor_id", "opened_at", "id"),
        Index("ix_request_insurer_opened", "insurer_id", "opened_at", "id"),
        Index("ix_request_service_opened", "service_id", "opened_at", "id"),
        Index("ix_request_status_opened", "status", "opened_at", "id"),
    )

    id: str = Field(primary_key=True)
    service_id: str
    catalog_version: int
    catalog_digest: str
    insurer_id: str
    vendor_id: str
    external_ref: str | None = None
    status: str  # open | completed | cancelled
    opened_at: datetime = Field(sa_type=AwareDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)  # the closing event's effective time
    closed_received_at: datetime | None = Field(default=None, sa_type=AwareDateTime)  # when it was sent
    revision: int
    # The write position: (run, history length of the workflow task, revision, attempt scheduled)
    # orders every write attempt, committed or abandoned; see activities/projection.py.
    written_run: int = 1
    written_history_length: int = 0
    written_attempt_ns: int = Field(default=0, sa_type=BigInteger)
    calendar_fingerprint: str
    calendar_sources: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    pinned_terms: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Customer-side recommendations the log does not keep (e.g. apply 4 days before purchase, [002:344]).
    advisories: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # What this request adds to the tallies, so any write can take it back exactly.
    tallied: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON))
    # Personal data, AES-GCM sealed with the payload keys (runtime.codec): never in clear at rest.
    sealed_personal_data: str | None = None
    updated_at: datetime = Field(sa_type=AwareDateTime)


# The phases sla.engine.reading calls COUNTING, and the running one: the predicates of the partial
# indexes below, written into the queries that use them exactly so by api/readings.py (as literals: a
# planner proves a partial index applies only from the SQL text).
COUNTING_PREDICATE = "request_clock.phase IN ('running', 'at_risk')"
RUNNING_PREDICATE = "request_clock.phase = 'running'"
# Clocks still owed (running, at risk, or breached and not stopped): the pages' list walks them in due order.
OWED_PREDICATE = "request_clock.phase IN ('running', 'at_risk', 'breached') AND request_clock.stopped_at IS NULL"


class ClockRow(SQLModel, table=True):
    """One clock instance of a request (per-occurrence clocks have instances 1, 2, ...): the engine's
    `ClockView` as a document (`view`), and as columns only what lists, tallies and dry runs select by.
    A field added to ClockView reaches the API through `view` with no change here."""

    __tablename__ = "request_clock"
    __table_args__ = (
        Index("ix_clock_phase_opened", "phase", "opened_at", "request_id"),
        Index("ix_clock_vendor_phase_opened", "vendor_id", "phase", "opened_at", "request_id"),
        Index("ix_clock_insurer_phase_opened", "insurer_id", "phase", "opened_at", "request_id"),
        Index("ix_clock_service_phase_opened", "service_id", "phase", "opened_at", "request_id"),
        # The few clocks whose instant has passed but whose new phase the workflow has not recorded
        # yet (a herd's lag) are found by that instant in partial indexes that hold only counting
        # clocks, so "breached" and "at risk" stay exact at the instant of a query, at the cost of the
        # lag, whatever the table's size (tests/api/test_query_plans.py).
        Index(
            "ix_clock_counting_due",
            "due_at",
            sqlite_where=text(COUNTING_PREDICATE),
            postgresql_where=text(COUNTING_PREDICATE),
        ),
        Index(
            "ix_clock_running_at_risk",
            "at_risk_from",
            sqlite_where=text(RUNNING_PREDICATE),
            postgresql_where=text(RUNNING_PREDICATE),
        ),
        # The clocks still owed in due order, whole and per scope (a vendor's, an insurer's): the pages'
        # list reads a page of them, not every open clock (tests/api/test_query_plans.py).
        Index(
            "ix_clock_owed_due",
            "due_at",
            "request_id",
            sqlite_where=text(OWED_PREDICATE),
            postgresql_where=text(OWED_PREDICATE),
        ),
        Index(
            "ix_clock_vendor_owed_due",
            "vendor_id",
            "due_at",
            "request_id",
            sqlite_where=text(OWED_PREDICATE),
            postgresql_where=text(OWED_PREDICATE),
        ),
        Index(
            "ix_clock_insurer_owed_due",
            "insurer_id",
            "due_at",
            "request_id",
            sqlite_where=text(OWED_PREDICATE),
            postgresql_where=text(OWED_PREDICATE),
        ),
    )

    request_id: str = Field(primary_key=True, foreign_key="request.id")
    clock_id: str = Field(primary_key=True)
    instance: int = Field(default=1, primary_key=True)
    insurer_id: str
    vendor_id: str
    service_id: str
    party: str  # who owes the clock (sla.catalog.model.Party): only the vendor's count in its compliance
    opened_at: datetime = Field(sa_type=AwareDateTime)  # the request's, for lists in their order
    state: str  # the engine's: pending | running | paused | met | breached | exempt | cancelled
    phase: str  # the state, with a running clock past its last warning recorded as at_risk
    outcome: str | None = None
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    stopped_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    working_days_used: float
    provisional: bool
    # The instant of the clock's last warning: from then until due_at the clock is "at risk".
    at_risk_from: datetime | None = Field(default=None, sa_type=AwareDateTime)
    view: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # the ClockView, as JSON


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
    """One row per closed clock instance: the key makes counting twice impossible."""

    __tablename__ = "clock_outcome"
    __table_args__ = (
        Index("ix_outcome_at", "outcome_at"),
        Index("ix_outcome_vendor_at", "vendor_id", "outcome_at"),
        Index("ix_outcome_insurer_at", "insurer_id", "outcome_at"),
        # A month's report and scorecard count the clocks due in the month.
        Index("ix_outcome_due", "due_at"),
    )

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    instance: int = Field(default=1, primary_key=True)
    insurer_id: str
    vendor_id: str
    service_id: str
    party: str
    outcome: str  # met | breached | exempt | cancelled
    outcome_at: datetime = Field(sa_type=AwareDateTime)  # the instant it happened: stop time, or due_at for a breach
    due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    working_days_used: float
    late_by_seconds: int | None = None
    # When the projection first wrote this outcome (breach detection delay = recorded_at - due_at).
    recorded_at: datetime = Field(sa_type=AwareDateTime)
    corrected: bool = False


class ThresholdRow(SQLModel, table=True):
    __tablename__ = "clock_threshold"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    instance: int = Field(default=1, primary_key=True)
    cycle: int = Field(primary_key=True)
    fraction: float = Field(primary_key=True)
    fired_at: datetime = Field(sa_type=AwareDateTime)
    recorded_at: datetime = Field(sa_type=AwareDateTime)


class CorrectionRow(SQLModel, table=True):
    __tablename__ = "outcome_correction"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    instance: int = Field(default=1, primary_key=True)
    at: datetime = Field(primary_key=True, sa_type=AwareDateTime)
    previous: str
    current: str | None
    reason: str


class CorrectionReviewRow(SQLModel, table=True):
    """An event held for the insurer's review (sla/engine/review.py): what it would change, and who
    accepted or rejected it when. Held events are not in request_event until accepted; the row stays
    whatever the decision, so the audit trail keeps it."""

    __tablename__ = "correction_review"

    request_id: str = Field(primary_key=True, foreign_key="request.id")
    correction_id: str = Field(primary_key=True)
    event_seq: int
    event_type: str
    occurred_at: datetime = Field(sa_type=AwareDateTime)
    received_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    sender: str
    event_data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    rule: str
    reason: str
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    held_at: datetime = Field(sa_type=AwareDateTime)
    status: str  # pending | accepted | rejected
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    note: str = ""


class RecomputeRow(SQLModel, table=True):
    __tablename__ = "clock_recompute"

    request_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    instance: int = Field(default=1, primary_key=True)
    at: datetime = Field(primary_key=True, sa_type=AwareDateTime)
    old_due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    new_due_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    old_provisional: bool
    new_provisional: bool
    reason: str


class OutcomeTallyRow(SQLModel, table=True):
    """Closed clocks counted by series, outcome and histogram bucket of the working days used
    (store.tally.WORKING_DAY_BUCKETS): /metrics reads its counters and histogram here, the compliance
    report its counts."""

    __tablename__ = "outcome_tally"

    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    outcome: str = Field(primary_key=True)
    working_days_bucket: int = Field(primary_key=True)  # index into WORKING_DAY_BUCKETS; 12 = +Inf
    count: int = 0
    working_days_e4: int = Field(default=0, sa_type=BigInteger)  # sum of working days used, x 10^4 (exact)


class WorkingDaysTallyRow(SQLModel, table=True):
    """Graded clocks (met or breached) by series and working days used in tenths of a day, rounded up:
    the compliance report's p50/p90 without reading the outcomes."""

    __tablename__ = "working_days_tally"

    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    working_days_tenths: int = Field(primary_key=True)
    count: int = 0


class OpenClockTallyRow(SQLModel, table=True):
    """Clocks of open requests by the phase the workflow last recorded (running, at_risk, paused,
    breached without a stop); a scrape corrects it with the few clocks whose instant has passed."""

    __tablename__ = "open_clock_tally"

    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    phase: str = Field(primary_key=True)
    provisional: bool = Field(primary_key=True)
    count: int = 0


class OpenRequestTallyRow(SQLModel, table=True):
    __tablename__ = "open_request_tally"

    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    count: int = 0


class MonthTallyRow(SQLModel, table=True):
    """Clocks by the Asia/Shanghai calendar month of their due instant (sla.reports.CalendarMonth.of_due)
    and series: closed ones by outcome, counting ones (running, at risk) as "counting".
    `past_due_at_end`: still owed and past its due instant at the month's end (a breach not delivered by
    then; a counting clock due before 24:00 of the last day). A month's report reads these rows, not
    the clocks (api/compliance.py)."""

    __tablename__ = "month_tally"
    # SQLite: the rows stored in the key's order, so a month's series are read from one B-tree range
    # without a lookup of each row by rowid (PostgreSQL ignores it).
    __table_args__ = {"sqlite_with_rowid": False}

    month: str = Field(primary_key=True)  # YYYY-MM
    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    standing: str = Field(primary_key=True)  # met | breached | exempt | cancelled | counting
    past_due_at_end: bool = Field(primary_key=True)
    count: int = 0


class MonthDaysTallyRow(SQLModel, table=True):
    """The graded clocks (met or breached) of a due month by series and working days used in tenths of
    a day, rounded up: what MonthPercentileRow is worked out from."""

    __tablename__ = "month_days_tally"

    month: str = Field(primary_key=True)
    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    working_days_tenths: int = Field(primary_key=True)
    count: int = 0


class MonthPercentileRow(SQLModel, table=True):
    """p50 and p90 of the working days of a due month's graded clocks, per series, worked out from
    MonthDaysTallyRow by the write that changed it (store.tally.refresh_month_percentiles): a month's
    report reads one row a series however many clocks it has."""

    __tablename__ = "month_percentile"
    __table_args__ = {"sqlite_with_rowid": False}  # as month_tally: a series' row found in the key's B-tree

    month: str = Field(primary_key=True)
    insurer_id: str = Field(primary_key=True)
    vendor_id: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    clock_id: str = Field(primary_key=True)
    party: str = Field(primary_key=True)
    graded: int = 0
    working_days_p50: float | None = None
    working_days_p90: float | None = None


class HistoryArchiveRow(SQLModel, table=True):
    """The workflow history, kept after Temporal's retention (payloads stay encrypted)."""

    __tablename__ = "request_history"

    request_id: str = Field(primary_key=True)
    # One row per run: a request that continued as new has several, numbered from 1.
    run: int = Field(default=1, primary_key=True)
    closing: bool = True  # the run that closed the request (archived as it closed)
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


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser (the pages and the codec server, store/sessions.py): the cookie holds a random
    session id, only its SHA-256 is stored; the session ends at `expires_at`, on sign-out, or when its key
    is revoked (every read joins the key, so every process sees a revocation at once)."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_key", "key_id"),)

    id_sha256: str = Field(primary_key=True)
    key_id: str = Field(foreign_key="api_key.key_id")
    csrf_token: str  # sent back in every form of the session, compared on every POST
    created_at: datetime = Field(sa_type=AwareDateTime)
    expires_at: datetime = Field(sa_type=AwareDateTime)


class RefusedEventRow(SQLModel, table=True):
    """An event the workflow refused (a broken rule): nothing of it reaches the request's log or its
    clocks, but the audit page shows that it was tried, by whom, and which rule refused it."""

    __tablename__ = "refused_event"

    request_id: str = Field(primary_key=True)
    id: str = Field(primary_key=True)  # random hex: two refusals in one instant are two rows
    type: str
    occurred_at: datetime = Field(sa_type=AwareDateTime)
    received_at: datetime = Field(sa_type=AwareDateTime)
    sender: str
    idempotency_key: str | None = None
    rule: str
    source: str | None = None
    detail: str


class VendorRow(SQLModel, table=True):
    __tablename__ = "vendor"

    id: str = Field(primary_key=True)
    name: str


class CalendarOverlayRow(SQLModel, table=True):
    """A year loaded by an operator (PUT /v1/calendar/{year}); read by every worker's activities.
    `generation` grows with every load, so a worker knows its cached calendar is stale."""

    __tablename__ = "calendar_overlay"

    year: int = Field(primary_key=True)
    document: str  # the overlay YAML as validated
    loaded_by: str
    loaded_at: datetime = Field(sa_type=AwareDateTime)
    generation: int = 0


class WebhookRow(SQLModel, table=True):
    """A vendor's webhook (POST /v1/vendors/{id}/webhooks). The signing secret is needed to sign, so
    it is kept AES-GCM sealed with the payload keys (runtime.codec.seal_text), never in clear; a
    deleted webhook keeps its row (the delivery log refers to it) but loses its secret."""

    __tablename__ = "webhook"
    __table_args__ = (Index("ix_webhook_vendor", "vendor_id", "created_at"),)

    id: str = Field(primary_key=True)  # wh_<hex>
    vendor_id: str = Field(foreign_key="vendor.id")
    url: str
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    sealed_secret: str | None = None
    created_at: datetime = Field(sa_type=AwareDateTime)
    created_by: str  # the admin key that registered it (Principal.sender)
    deleted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class WebhookDeliveryRow(SQLModel, table=True):
    """One message to one webhook: the delivery log's summary row, written when the delivery starts
    and by every attempt (activities/notify.py)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_delivery_webhook_created", "webhook_id", "created_at", "message_id"),)

    webhook_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)  # the webhook-id header: the same on every attempt
    event_type: str
    request_id: str
    clock_id: str | None = None
    instance: int = 0
    occurred_at: datetime = Field(sa_type=AwareDateTime)  # the instant the message reports
    created_at: datetime = Field(sa_type=AwareDateTime)  # when the request workflow started the delivery
    state: str  # pending | delivered | failed | abandoned
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    failure_reason: str | None = None  # why delivery stopped (24 h of retries, 410 Gone, webhook deleted)


class WebhookAttemptRow(SQLModel, table=True):
    """One HTTP attempt of a delivery, keyed by Temporal's attempt number (a re-run overwrites)."""

    __tablename__ = "webhook_attempt"

    webhook_id: str = Field(primary_key=True)
    message_id: str = Field(primary_key=True)
    attempt: int = Field(primary_key=True)
    at: datetime = Field(sa_type=AwareDateTime)
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class QuotaClaimRow(SQLModel, table=True):
    """One use of a service's quota per policy year (api/commands.py). The key (blind index, service,
    policy year, use number) makes concurrent opens race-free on both backends: two opens that count
    the same uses try to claim the same use number and one of them loses. `blind_index` is an
    HMAC-SHA256 of the normalised policy number (store/quota.py), never the number itself."""

    __tablename__ = "quota_claim"
    __table_args__ = (UniqueConstraint("request_id", name="uq_quota_claim_request"),)

    blind_index: str = Field(primary_key=True)
    service_id: str = Field(primary_key=True)
    policy_year_start: date = Field(primary_key=True)
    use_no: int = Field(primary_key=True)  # 1..quota; above it only with an admin's override
    request_id: str
    quota: int  # the entry's quota_per_policy_year when claimed
    claimed_at: datetime = Field(sa_type=AwareDateTime)
    claimed_by: str  # Principal.sender of the opening key
    override_reason: str | None = None  # an admin's reason to open beyond the quota


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a model, for set-based statements (no ORM flush in hot paths)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
