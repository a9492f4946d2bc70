"""API keys: `sk_<key id>_<secret>`. Only the SHA-256 of the 256-bit secret is stored (a random
secret of that size needs no slow hash); lookups go by key id, comparison is constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, select

from store.models import ApiKeyRow, table_of

KEYS = table_of(ApiKeyRow)


class Role(StrEnum):
    COORDINATOR = "coordinator"  # one vendor: opens its requests, sends their events, reads them
    OPERATIONS = "operations"  # reads everything
    AUDITOR = "auditor"  # one insurer, read-only, audit and raw history included
    ADMIN = "admin"  # calendar, keys; reads everything


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    vendor_id: str | None
    insurer_id: str | None
    label: str

    @property
    def sender(self) -> str:
        """Who sent an event, as the audit shows it (no personal data: the key's role and scope)."""
        scope = self.vendor_id or self.insurer_id or "all"
        return f"{self.role.value}:{scope}:{self.key_id}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    engine: Engine, role: Role, *, vendor_id: str | None = None, insurer_id: str | None = None, label: str = ""
) -> str:
    """Create a key and return it; it is never shown again."""
    if role is Role.COORDINATOR and not vendor_id:
        raise ValueError("a coordinator key needs --vendor")
    if role is Role.AUDITOR and not insurer_id:
        raise ValueError("an auditor key needs --insurer")
    if (role is not Role.COORDINATOR and vendor_id) or (role is not Role.AUDITOR and insurer_id):
        raise ValueError("--vendor is only for coordinators, --insurer only for auditors")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with Session(engine) as session:
        session.add(
            ApiKeyRow(
                key_id=key_id,
                secret_sha256=_digest(secret),
                role=role.value,
                vendor_id=vendor_id,
                insurer_id=insurer_id,
                label=label,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    return f"sk_{key_id}_{secret}"


def revoke_key(engine: Engine, key_id: str) -> bool:
    with Session(engine) as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
        return True


def list_keys(engine: Engine) -> list[ApiKeyRow]:
    with Session(engine) as session:
        return list(session.exec(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all())  # type: ignore[arg-type]


def authenticate(engine: Engine, presented: str) -> Principal | None:
    """The key's principal, or None. Read from the database on every call (one primary-key lookup,
    ~0.35 ms on SQLite): a key revoked by any process stops working in every process at once."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "sk":
        return None
    _, key_id, secret = parts
    with engine.connect() as connection:
        row = connection.execute(KEYS.select().where(KEYS.c.key_id == key_id)).first()
    # compare even when the key id is unknown, so timing does not tell which ids exist
    expected = row.secret_sha256 if row else _digest("unknown key")
    if not hmac.compare_digest(expected, _digest(secret)) or row is None or row.revoked_at is not None:
        return None
    return Principal(row.key_id, Role(row.role), row.vendor_id, row.insurer_id, row.label)
