"""Annotated dependencies, so routes read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from api.state import AppState
from store.keys import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer sk_<key id>_<secret>")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.slatrack
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_principal(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401, "Unauthorized", "send Authorization: Bearer <api key>", headers={"WWW-Authenticate": "Bearer"}
        )
    principal = authenticate(state.engine, credentials.credentials)  # revocation holds at once
    if principal is None:
        raise Problem(401, "Unauthorized", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="repeat an event safely: the same key returns the first result",
    ),
]
