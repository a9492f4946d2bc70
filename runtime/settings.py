"""Typed settings: SLA_* for the application, the standard TEMPORAL_* for the connection."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", extra="ignore")

    database_url: str = f"sqlite:///{ROOT / '.data' / 'slatrack.db'}"
    calendar_dir: Path = ROOT / "calendars"
    task_queue: str = "slatrack"
    # AES-256 keys as "key_id:base64key,key_id2:base64key2"; the first encrypts, all decrypt.
    # No default: a missing key must stop the process, not silently store personal data in clear.
    payload_keys: str = Field(default="")
    # The SDK's Prometheus endpoint; loopback by default, 0.0.0.0:9464 in containers.
    worker_metrics_bind: str = "127.0.0.1:9464"
    graceful_shutdown_seconds: int = 30
    # Calls the API serves at once; more answer 503 with Retry-After (liveness and metrics are exempt).
    api_max_in_flight: int = 200
    # Of those, at most this many without a valid API key (the codec's sign-in, the docs): the rest of
    # the capacity stays for callers with a key (api/app.py Admission).
    api_max_unauthenticated_in_flight: int = 50
    # A request body must have arrived within this many seconds of the headers (else 408).
    api_body_read_seconds: float = 10.0
    # Threads for the worker's synchronous activities (each holds one database connection while it writes).
    activity_threads: int = 16
    # Workflow tasks the request worker runs at once (the SDK's default is 100). A deadline herd wakes
    # thousands of requests in one second, and each task stays open while its local activity writes;
    # tasks the worker cannot take wait on its sticky queue, and after 10 s there Temporal times them
    # out and sends them again with their whole history: 30 % of a 2,000-request herd did with 100 slots
    # (its last breach 21.6-30.5 s after the instant in six runs), none in three of five runs with 1,000
    # (16.5-22.3 s in four; bench/README.md, issue 25). Raising the sticky timeout instead would also
    # hold the tasks of a crashed worker that long, past the API's 15 s wait for an update.
    workflow_task_slots: int = 1000
    # The cache should hold every open request a deadline herd wakes at once: an evicted one is replayed
    # from its history at its instant (bench/herd.py, 2,000 at one instant: the last breach 48.9 s after
    # it with 1,310 cached, 45.2 s with 2,621). 512 MiB holds 4,096 unsandboxed, as the compose file sets.
    worker_cache_budget_mib: int = 512
    # What one cached ServiceRequestWorkflow may take; unset, it follows the runner: bench/worker_memory.py
    # measured 89-100 KiB unsandboxed and 113-124 KiB sandboxed (1,000-3,000 open requests), so 128 and 200.
    worker_kib_per_cached_workflow: int | None = None
    # Run the request workflows in Temporal's sandbox. Off by default: the sandbox copies the workflow's
    # modules for every cached run and proxies its calls, which cost 1.3x the worker's CPU per request
    # lifecycle and 1.25x its memory per cached request (bench/README.md, issue 25). Its guard against
    # non-deterministic calls stays in CI: the workflow tests and the replay corpus run sandboxed.
    workflow_sandbox: bool = False
    # Set only by `slatrack up` (worker/stack.py) for the processes it starts: the embedded default on
    # loopback. There, and only there, /metrics may be served without SLA_METRICS_TOKEN.
    embedded: bool = False
    # Bearer token Prometheus sends to /metrics; or a file holding it (a compose secret, the same file
    # Prometheus reads as credentials_file). Without either, /metrics refuses every scrape (but embedded).
    metrics_token: str = ""
    metrics_token_file: Path | None = None
    # Web sessions (the pages and the codec server, store/sessions.py): how long one lasts, and whether
    # its cookie is marked Secure. Set SLA_SESSION_COOKIE_SECURE=true behind a TLS proxy: the app itself
    # sees http there and cannot tell.
    session_hours: float = 8.0
    session_cookie_secure: bool = False
    # Origins of the Temporal web UI allowed to call the codec server (/codec), comma-separated.
    codec_cors_origins: str = "http://127.0.0.1:8233,http://localhost:8233"
    # HMAC-SHA256 key of the policy-number blind index that counts quota uses (base64 of at least 32
    # bytes; `slatrack keys new-payload-key` makes one, drop its "id:"). No default: without it a
    # service with a quota cannot be opened (503); `slatrack up` generates one under SLA_DATA_DIR.
    # Never change it within a policy year: the counts are kept by this index.
    blind_index_key: str = ""
    # Refuse opens beyond a service's quota per policy year (409 quota.policy_year_exceeded). Off only
    # where a test suite reuses policy numbers on purpose; production keeps it on.
    quota_enforced: bool = True
    # Base of the links in webhook bodies (the request view); default http://127.0.0.1:<api_port>.
    public_url: str = ""
    # Admit http webhooks to loopback receivers (127.0.0.0/8, ::1, localhost); otherwise https to public
    # addresses only (runtime/webhook_target.py). Set by `slatrack up` (worker/stack.py) and the tests.
    webhook_allow_loopback: bool = False
    # Webhook deliveries in flight at once per worker (async HTTP, on the webhook task queue).
    webhook_concurrency: int = 100
    # An event recorded more than this many working days after its effective time, that would favour
    # the clock's owner, waits for an insurer's auditor or an admin to accept it (sla/engine/review.py).
    late_event_review_working_days: int = Field(default=2, ge=0)
    # Hold events that undo a breach or come late for the insurer's review. Off only for test suites that
    # play 2025 scenarios today (every stop after its due instant would wait for an insurer); never in
    # production: a vendor could then erase its own breaches.
    review_corrections: bool = True
    # `slatrack up`: where the embedded stack keeps its files, and its ports (flags override these).
    data_dir: Path = ROOT / ".data"
    api_port: int = 8000
    temporal_port: int = 7233
    ui_port: int = 8233
    # The Temporal web UI the audit page links to (default: the embedded one at ui_port).
    temporal_ui_url: str = ""
    worker_metrics_port: int = 9464

    @field_validator("payload_keys")
    @classmethod
    def _keys_are_aes256(cls, value: str) -> str:
        for item in filter(None, value.split(",")):
            key_id, _, encoded = item.partition(":")
            if not key_id or len(base64.b64decode(encoded)) != 32:
                raise ValueError(f"payload key {key_id or '?'} must be 'id:base64 of 32 bytes'")
        return value

    @field_validator("blind_index_key")
    @classmethod
    def _blind_index_key_is_long(cls, value: str) -> str:
        if value:
            try:
                decoded = base64.b64decode(value, validate=True)
            except ValueError:
                raise ValueError("SLA_BLIND_INDEX_KEY must be base64") from None
            if len(decoded) < 32:
                raise ValueError("SLA_BLIND_INDEX_KEY must hold at least 32 bytes (base64)")
        return value

    def blind_index_secret(self) -> bytes | None:
        """The blind-index key, or None when it is not configured."""
        return base64.b64decode(self.blind_index_key) if self.blind_index_key else None

    def temporal_ui_base_url(self) -> str:
        """Where the audit page links a request's workflow: SLA_TEMPORAL_UI_URL, else the embedded UI."""
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.ui_port}").rstrip("/")

    @property
    def view_base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.api_port}").rstrip("/")

    def keys(self) -> list[tuple[str, bytes]]:
        if not self.payload_keys:
            raise RuntimeError(
                "SLA_PAYLOAD_KEYS is not set: personal data in Temporal payloads must be encrypted. "
                "Generate one with: slatrack keys new-payload-key"
            )
        pairs = [item.partition(":") for item in self.payload_keys.split(",") if item]
        return [(key_id, base64.b64decode(encoded)) for key_id, _, encoded in pairs]

    def metrics_bearer_token(self) -> str:
        """The /metrics token: SLA_METRICS_TOKEN, else the content of SLA_METRICS_TOKEN_FILE, else ""."""
        if self.metrics_token:
            return self.metrics_token
        if self.metrics_token_file is not None:
            return self.metrics_token_file.read_text().strip()
        return ""

    @property
    def codec_origins(self) -> frozenset[str]:
        return frozenset(origin.strip().rstrip("/") for origin in self.codec_cors_origins.split(",") if origin.strip())

    @property
    def max_cached_workflows(self) -> int:
        kib = self.worker_kib_per_cached_workflow or (200 if self.workflow_sandbox else 128)
        return max(100, self.worker_cache_budget_mib * 1024 // kib)


class TemporalSettings(BaseSettings):
    """The standard Temporal environment variables."""

    model_config = SettingsConfigDict(env_prefix="TEMPORAL_", extra="ignore")

    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    api_key: str | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
