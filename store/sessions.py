"""Web sessions for the pages and the codec server: a browser signs in with an API key once and then
holds a random session id in a cookie, never the key.

Only the SHA-256 of the session id is stored (a copy of the table opens no browser). Every lookup
joins the key, so a revoked key ends its sessions in every process at the next call, with no cache to
wait out; an expired or signed-out session is gone the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, Engine, bindparam, delete, select

from store.db import write_transaction
from store.keys import Principal, Role
from store.models import ApiKeyRow, WebSessionRow, table_of
from store.types import AwareDateTime

SESSIONS, KEYS = table_of(WebSessionRow), table_of(ApiKeyRow)


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    csrf_token: str
    expires_at: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(engine: Engine, principal: Principal, now: datetime, lifetime: timedelta) -> tuple[str, WebSession]:
    """A new session for a key that was just authenticated: (the id for the cookie, the session)."""
    session_id = secrets.token_urlsafe(32)
    session = WebSession(principal, secrets.token_urlsafe(24), now + lifetime)
    with write_transaction(engine) as connection:
        # Expired sessions are removed as new ones arrive: the table holds about the live ones.
        connection.execute(delete(SESSIONS).where(SESSIONS.c.expires_at <= _instant(now)))
        connection.execute(
            SESSIONS.insert().values(
                id_sha256=_digest(session_id),
                key_id=principal.key_id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
    return session_id, session


def _instant(value: datetime) -> BindParameter[datetime]:
    return bindparam("now", value, type_=AwareDateTime())


def find_session(engine: Engine, session_id: str, now: datetime) -> WebSession | None:
    """The live session with this id, or None (unknown, expired, signed out, or its key revoked)."""
    if not session_id or len(session_id) > 128:
        return None
    query = (
        select(SESSIONS.c.csrf_token, SESSIONS.c.expires_at, KEYS)
        .join(KEYS, KEYS.c.key_id == SESSIONS.c.key_id)
        .where(
            SESSIONS.c.id_sha256 == _digest(session_id),
            SESSIONS.c.expires_at > _instant(now),
            KEYS.c.revoked_at.is_(None),
        )
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    principal = Principal(row.key_id, Role(row.role), row.vendor_id, row.insurer_id, row.label)
    return WebSession(principal, row.csrf_token, row.expires_at)


def end_session(engine: Engine, session_id: str) -> None:
    with write_transaction(engine) as connection:
        connection.execute(delete(SESSIONS).where(SESSIONS.c.id_sha256 == _digest(session_id)))
