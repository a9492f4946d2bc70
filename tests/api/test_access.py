"""api/access.py decides alone who may do what to which rows: pure given a Principal, no server."""

from __future__ import annotations

import pytest

from api.access import ALLOWED, Action, in_reach, may, narrow, opens_for, require
from api.problems import Problem
from store.keys import Principal, Role

COORDINATOR = Principal("k1", Role.COORDINATOR, "v1", None, "v1 desk")
AUDITOR = Principal("k2", Role.AUDITOR, None, "ins1", "ins1 audit")
OPERATIONS = Principal("k3", Role.OPERATIONS, None, None, "ops")
ADMIN = Principal("k4", Role.ADMIN, None, None, "admin")


def test_every_action_names_the_roles_it_allows() -> None:
    assert set(ALLOWED) == set(Action)
    assert all(ALLOWED[action] for action in Action)


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.OPEN_REQUEST, {Role.COORDINATOR, Role.ADMIN}),
        (Action.SEND_EVENT, {Role.COORDINATOR, Role.ADMIN}),
        (Action.DECIDE_CORRECTION, {Role.AUDITOR, Role.ADMIN}),
        (Action.OVERRIDE_QUOTA, {Role.ADMIN}),
        (Action.BACKFILL_BEFORE_OPENING, {Role.ADMIN}),
        (Action.READ_AUDIT_PACK, {Role.AUDITOR, Role.ADMIN, Role.OPERATIONS}),
        (Action.READ_RAW_HISTORY, {Role.AUDITOR, Role.ADMIN}),
        (Action.READ_REQUEST_PAGE, set(Role)),
        (Action.LOAD_CALENDAR, {Role.ADMIN}),
        (Action.REBUILD_READ_MODEL, {Role.ADMIN}),
        (Action.READ_WEBHOOKS, {Role.ADMIN, Role.OPERATIONS, Role.COORDINATOR}),
        (Action.MANAGE_WEBHOOKS, {Role.ADMIN}),
        (Action.DECODE_PAYLOADS, {Role.AUDITOR, Role.ADMIN}),
        (Action.ENCODE_PAYLOADS, {Role.ADMIN}),
    ],
)
def test_a_role_may_do_an_action_exactly_when_the_table_allows_it(action: Action, allowed: set[Role]) -> None:
    for principal in (COORDINATOR, AUDITOR, OPERATIONS, ADMIN):
        assert may(principal, action) is (principal.role in allowed)


def test_nobody_grades_themselves_the_vendors_coordinator_may_not_decide_its_correction() -> None:
    assert not may(COORDINATOR, Action.DECIDE_CORRECTION)
    assert may(AUDITOR, Action.DECIDE_CORRECTION)


def test_require_refuses_with_403_naming_the_allowed_roles_in_order() -> None:
    require(ADMIN, Action.LOAD_CALENDAR)
    with pytest.raises(Problem) as refused:
        require(AUDITOR, Action.READ_WEBHOOKS)
    assert refused.value.status == 403
    assert refused.value.detail == "a auditor key may not do this (allowed: admin, operations, coordinator)"


def test_a_coordinator_reaches_its_own_vendors_rows_and_an_auditor_its_own_insurers() -> None:
    assert in_reach(COORDINATOR, vendor_id="v1", insurer_id="any")
    assert not in_reach(COORDINATOR, vendor_id="v2", insurer_id="any")
    assert in_reach(AUDITOR, vendor_id="v2", insurer_id="ins1")
    assert not in_reach(AUDITOR, vendor_id="v1", insurer_id="ins2")
    assert in_reach(OPERATIONS, vendor_id="v2", insurer_id="ins2")
    assert in_reach(ADMIN, vendor_id=None, insurer_id=None)


def test_narrowing_pins_a_coordinator_to_its_vendor_and_marks_another_vendor_outside() -> None:
    assert narrow(COORDINATOR, vendor=None, insurer="ins9") == narrow(COORDINATOR, vendor="v1", insurer="ins9")
    assert narrow(COORDINATOR, vendor=None, insurer="ins9").vendor == "v1"
    assert not narrow(COORDINATOR, vendor=None, insurer="ins9").outside
    assert narrow(COORDINATOR, vendor="v2", insurer=None).outside


def test_narrowing_pins_an_auditor_to_its_insurer_and_leaves_operations_as_asked() -> None:
    assert narrow(AUDITOR, vendor="v2", insurer=None).insurer == "ins1"
    assert narrow(AUDITOR, vendor="v2", insurer="ins2").outside
    asked = narrow(OPERATIONS, vendor="v2", insurer="ins2")
    assert (asked.vendor, asked.insurer, asked.outside) == ("v2", "ins2", False)


def test_a_coordinator_opens_requests_for_its_own_vendor_only() -> None:
    assert opens_for(COORDINATOR, "v1")
    assert not opens_for(COORDINATOR, "v2")
    assert opens_for(ADMIN, "v2")
