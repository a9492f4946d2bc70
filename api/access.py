"""May this principal do this to that: every authorization decision of the API and the pages, in one
place (README, API keys). Pure given a Principal: no database, no HTTP. The callers keep their own
answers (a 403 naming the allowed roles, a 404 that does not reveal another vendor's rows, a page
without a button); what they ask is decided here.

Two kinds of decision: what a role may do at all (`may`, `require`), and which rows a key reaches
(`in_reach`, `narrow`): a coordinator its own vendor's, an auditor its own insurer's, the other roles
all of them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.problems import forbidden
from store.keys import Principal, Role


class Action(StrEnum):
    OPEN_REQUEST = "open a request"
    BACKFILL_BEFORE_OPENING = "move over events from before the opening"
    OVERRIDE_QUOTA = "open a request beyond its quota"
    SEND_EVENT = "send events"
    DECIDE_CORRECTION = "accept or reject a held correction"
    READ_REQUEST_PAGE = "read a request's audit page"
    READ_AUDIT_PACK = "read a request's audit pack, with its history replayed"
    READ_RAW_HISTORY = "read a request's raw history (personal data included)"
    LOAD_CALENDAR = "load a year's calendar"
    REBUILD_READ_MODEL = "rebuild or verify the read model"
    READ_WEBHOOKS = "read a vendor's webhooks"
    MANAGE_WEBHOOKS = "change a vendor's webhooks"
    DECODE_PAYLOADS = "decode"
    ENCODE_PAYLOADS = "encode"


# The roles each action allows, in the order a refusal lists them.
ALLOWED: dict[Action, tuple[Role, ...]] = {
    Action.OPEN_REQUEST: (Role.COORDINATOR, Role.ADMIN),
    Action.BACKFILL_BEFORE_OPENING: (Role.ADMIN,),
    Action.OVERRIDE_QUOTA: (Role.ADMIN,),
    Action.SEND_EVENT: (Role.COORDINATOR, Role.ADMIN),
    # Nobody grades themselves: the insurer's side decides what the vendor's correction counts for.
    Action.DECIDE_CORRECTION: (Role.AUDITOR, Role.ADMIN),
    Action.READ_REQUEST_PAGE: tuple(Role),
    Action.READ_AUDIT_PACK: (Role.AUDITOR, Role.ADMIN, Role.OPERATIONS),
    Action.READ_RAW_HISTORY: (Role.AUDITOR, Role.ADMIN),
    Action.LOAD_CALENDAR: (Role.ADMIN,),
    Action.REBUILD_READ_MODEL: (Role.ADMIN,),  # api/routes/admin.py (issue 25)
    Action.READ_WEBHOOKS: (Role.ADMIN, Role.OPERATIONS, Role.COORDINATOR),
    Action.MANAGE_WEBHOOKS: (Role.ADMIN,),
    Action.DECODE_PAYLOADS: (Role.AUDITOR, Role.ADMIN),
    Action.ENCODE_PAYLOADS: (Role.ADMIN,),
}


def may(principal: Principal, action: Action) -> bool:
    return principal.role in ALLOWED[action]


def allowed_roles(action: Action) -> str:
    """The roles that may, as a refusal names them."""
    return ", ".join(role.value for role in ALLOWED[action])


def require(principal: Principal, action: Action) -> None:
    """403 unless the key's role may (the row's scope is checked before: 404 before 403)."""
    if not may(principal, action):
        raise forbidden(f"a {principal.role.value} key may not do this (allowed: {allowed_roles(action)})")


@dataclass(frozen=True)
class Reach:
    """The vendor and insurer a key reads with: the filters asked for, narrowed to its own."""

    vendor: str | None
    insurer: str | None
    outside: bool  # asked for another vendor's or insurer's rows: the key reaches none of them


def narrow(principal: Principal, *, vendor: str | None, insurer: str | None) -> Reach:
    """A coordinator reads its own vendor only, an auditor its own insurer only; the others as asked."""
    if principal.role is Role.COORDINATOR:
        return Reach(principal.vendor_id, insurer, outside=vendor not in (None, principal.vendor_id))
    if principal.role is Role.AUDITOR:
        return Reach(vendor, principal.insurer_id, outside=insurer not in (None, principal.insurer_id))
    return Reach(vendor, insurer, outside=False)


def in_reach(principal: Principal, *, vendor_id: str | None, insurer_id: str | None) -> bool:
    """Object-level authorization: one row (a request, a vendor) of this vendor and insurer."""
    if principal.role is Role.COORDINATOR:
        return vendor_id == principal.vendor_id
    if principal.role is Role.AUDITOR:
        return insurer_id == principal.insurer_id
    return True


def opens_for(principal: Principal, vendor_id: str) -> bool:
    """A coordinator opens requests for its own vendor only."""
    return principal.role is not Role.COORDINATOR or vendor_id == principal.vendor_id
