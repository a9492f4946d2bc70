"""Data the tests, the benches and the screenshot tools share (neither tests/ nor bench/ imports the other):
the personal-data canaries, the insured of a request opened over HTTP, instants in China Standard Time,
and the requests the pages are looked at with."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from workflows.messages import Insured

CST = timezone(timedelta(hours=8), "CST")


def at(*parts: int) -> datetime:
    """An instant in China Standard Time: at(2025, 10, 9, 10) = 2025-10-09 10:00 +08:00."""
    return datetime(*parts, tzinfo=CST)  # type: ignore[misc]


# Canaries for workflow-level tests: if these strings ever appear outside encrypted payloads, personal
# data leaked.
CANARY_INSURED = Insured(name="测试金丝雀张三", id_number="110101199003071234")
CANARY_POLICY = "POLICY-CANARY-0001"

# The insured of a request opened over HTTP (tests.helpers.open_request).
INSURED_JSON = {"name": "测试张三", "id_number": "110101199003071234"}


# Requests the pages are looked at with (tests/e2e/test_pages.py, tools/screenshots.py): bodies of
# POST /v1/requests on the green channel's 10-working-day admission clock, moved over with their past
# events, around the 2025 National Day week (10-01..10-08 off; Sun 09-28 and Sat 10-11 worked).
def _events(*events: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"type": kind, "occurred_at": f"2025-{when}:00+08:00", "data": {}} for kind, when in events]


# Started 09-25, paused 09-29 by incomplete materials across the holiday week, restarted in full by the
# complete materials on 10-09 (due 10-22 24:00), confirmed 10-21: met.
NATIONAL_DAY_RESTART = {
    "service_id": "axa.green_channel.inpatient",
    "vendor_id": "vendor-reliable",
    "policy_no": "P-PAGES-0001",
    "insured": INSURED_JSON,
    "opened_at": "2025-09-24T09:00:00+08:00",
    "events": _events(
        ("eligibility_approved", "09-24T10:00"),
        ("admission_notice_issued", "09-24T11:00"),
        ("materials_complete", "09-25T09:30"),
        ("materials_incomplete", "09-29T15:00"),
        ("materials_complete", "10-09T10:00"),
        ("hospital_confirmed", "10-21T16:00"),
    ),
}
NATIONAL_DAY_RESTART_DUE = "2025-10-22 24:00"

# Started 09-26 10:30: ten working days are 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10, 10-11
# (make-up Saturday), 10-13 .. 10-16: due 10-16 24:00; the hospital confirmed on 10-20: breached.
NATIONAL_DAY_BREACH = NATIONAL_DAY_RESTART | {
    "policy_no": "P-PAGES-0002",
    "events": _events(
        ("eligibility_approved", "09-26T10:00"),
        ("admission_notice_issued", "09-26T10:10"),
        ("materials_complete", "09-26T10:30"),
        ("hospital_confirmed", "10-20T11:00"),
    ),
}
NATIONAL_DAY_BREACH_DUE = "2025-10-16 24:00"

# The restart of NATIONAL_DAY_RESTART, then confirmed two days after its due instant: a restart, a
# pause across the holiday week and a breach in one request (tests/e2e/test_pages.py).
NATIONAL_DAY_RESTART_LATE = NATIONAL_DAY_RESTART | {
    "policy_no": "P-PAGES-0003",
    "events": [*NATIONAL_DAY_RESTART["events"][:-1], *_events(("hospital_confirmed", "10-24T10:00"))],
}

# NATIONAL_DAY_BREACH before the hospital confirmed: breached at 10-16 24:00 and still owed.
NATIONAL_DAY_BREACH_UNCONFIRMED = NATIONAL_DAY_BREACH | {
    "policy_no": "P-PAGES-0006",
    "events": NATIONAL_DAY_BREACH["events"][:-1],
}
