"""Hostile input over HTTP, as an attacker or a buggy vendor integration sends it (issue 11): every answer
a 4xx application/problem+json that names the field, never a 5xx, and no request wedged: afterwards each
request an input was aimed at still accepts a valid event, and its events in the read model are the
workflow's (`get_status`), revision included.

Run: python -m bench.hostile [--database postgresql]

Starts its own stack (Temporal dev server, worker, API over HTTP; SQLite, or PostgreSQL from Debian's
packages), sends every case below and prints a table per input class and the summary line. The
hand-written cases come from what went wrong (the 500s, the wedges, what was accepted though wrong, the
limits); tests/test_hostile.py runs them on both backends in `make test`, with property-based inputs
from hypothesis and schemathesis on top.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, select
from temporalio.client import Client

from sla.calendar.timeutil import SHANGHAI
from store.models import EventRow, RequestRow, table_of
from workflows.ids import request_workflow_id
from workflows.service_request import ServiceRequestWorkflow

PROBLEM = "application/problem+json"
NO_BODY: Any = object()
INSURED = {"name": "敌意测试", "id_number": "110101199001011234"}
VENDOR = "vendor-reliable"

# The requests inputs are aimed at, and for each a valid event that must still be accepted afterwards
# (accepted by the service, no customer window's subject, not closing).
TARGETS = {
    "axa.green_channel.inpatient": "materials_incomplete",
    "axa.advance_payment": "investigation_required",
    "zhongan.boao_special_drug": "eligibility_approved",
    "axa.zhuoyue.gene_test": "sample_received",
    "pingan_health.cancer.expert_outpatient": "customer_confirmed",
    "zhongan.inpatient_nursing_aide": "follow_up_done",
    "unnamed.ci_inpatient.direct_pay": "payment_requested",
    "axa.zhuoyue.special_drug": "eligibility_approved",
}
GENERAL = "axa.green_channel.inpatient"
# (service, event, data key): every instant a catalog window reads, on a service whose window reads it.
WINDOW_FIELDS = [
    ("axa.advance_payment", "admission_notice_issued", "planned_admission_at"),
    ("zhongan.boao_special_drug", "materials_complete", "planned_treatment_at"),
    ("axa.zhuoyue.gene_test", "customer_confirmed", "appointment_at"),
    ("pingan_health.cancer.expert_outpatient", "hospital_confirmed", "appointment_at"),
    ("zhongan.inpatient_nursing_aide", "expert_confirmed", "appointment_at"),
    ("zhongan.inpatient_nursing_aide", "materials_complete", "planned_service_at"),
    ("unnamed.ci_inpatient.direct_pay", "patient_discharged", "notified_at"),
    ("axa.zhuoyue.special_drug", "materials_complete", "planned_purchase_at"),
]


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# Instants no business date can be: each must be a 422 naming the field and the accepted range.
BAD_INSTANTS: list[tuple[str, Any]] = [
    ("garbage", "garbage"),
    ("empty", ""),
    ("a number (epoch)", 1700000000),
    ("epoch as text", "1700000000"),
    ("year 1", "0001-01-01T00:00:00+08:00"),
    ("year 9999", "9999-12-31T23:59:59+08:00"),
    ("1999-12-31", "1999-12-31T23:59:59+08:00"),
    ("2101-01-01", "2101-01-01T00:00:00+08:00"),
    ("naive", "2025-10-10T09:00:00"),
    ("a bare date", "2025-10-10"),
    ("offset +23:01", "2025-10-10T09:00:00+23:01"),
    ("offset -13:00", "2025-10-10T09:00:00-13:00"),
    ("February 30", "2025-02-30T09:00:00+08:00"),
    ("leap second", "2025-06-30T23:59:60+08:00"),
    ("24:00", "2025-10-10T24:00:00+08:00"),
    ("basic format", "20251010T090000+0800"),
    ("nanoseconds", "2025-10-10T09:00:00.123456789+08:00"),
    ("10 kB", "2025-10-10T09:00:00+08:00" + "x" * 10_000),
    ("lone surrogate", "2025-10-10T09:00:00+08:00\ud800"),
    ("null", None),
    ("boolean", True),
    ("list", ["2025-10-10T09:00:00+08:00"]),
    ("object", {"at": "2025-10-10T09:00:00+08:00"}),
    ("nested 198 deep", nested(198)),
    ("nested 300 deep", nested(300)),
]
SHORT_BAD_INSTANTS = {"garbage", "a number (epoch)", "year 1", "nested 198 deep", "offset +23:01", "naive"}
# Instants at the edges of the range: the event is judged (200, or 409 when a window refuses it), never 5xx.
EDGE_INSTANTS = [
    "2000-01-01T00:00:00+08:00",
    "1999-12-31T16:00:00Z",
    "2100-12-31T23:59:59.999999+08:00",
    "2100-12-31T03:59:59-12:00",
    "2025-10-10T09:00:00+14:00",
]


@dataclass(frozen=True)
class Hostile:
    kind: str  # the input class, for the table
    label: str
    method: str
    path: str  # "{request}" is the id of the request opened for `service`
    body: Any = NO_BODY  # sent as JSON with ASCII escapes (a lone surrogate as \\ud800, NaN as NaN)
    raw: bytes | None = None  # sent as is, with content-type application/json
    stream: int | None = None  # this many bytes, chunked
    params: dict[str, Any] | None = None
    headers: dict[str, str | bytes] = field(default_factory=dict)
    role: str = "coordinator"
    service: str = GENERAL
    expect: frozenset[int] = frozenset({422})
    names: str | None = None  # what the problem must name (in detail or in an error's loc)


def _event(kind: str, label: str, service: str, body: dict[str, Any], **more: Any) -> Hostile:
    return Hostile(kind, label, "POST", "/v1/requests/{request}/events", body=body, service=service, **more)


def event_data_cases(now: datetime) -> list[Hostile]:
    occurred = now.isoformat()
    cases = []
    for service, event, key in WINDOW_FIELDS:
        full = key in ("appointment_at", "planned_treatment_at", "planned_admission_at")
        for label, value in BAD_INSTANTS:
            if full or label in SHORT_BAD_INSTANTS:
                body = {"type": event, "occurred_at": occurred, "data": {key: value}}
                cases.append(_event("event data: bad instant", f"{event}.{key} {label}", service, body, names=key))
        for value in EDGE_INSTANTS:
            body = {"type": event, "occurred_at": occurred, "data": {key: value}}
            label = f"{event}.{key} at {value}"
            cases.append(_event("event data: edge instant", label, service, body, expect=frozenset({200, 409})))
    aide = "zhongan.inpatient_nursing_aide"  # the 12-hour change window judges the latest appointment
    body = {"type": "customer_rescheduled", "occurred_at": occurred, "data": {"note": "after edge appointments"}}
    cases.append(
        _event("event data: edge instant", "window judged at the edge", aide, body, expect=frozenset({200, 409}))
    )
    direct_pay = "unnamed.ci_inpatient.direct_pay"
    for label, value in [
        ("0", 0),
        ("-1", -1),
        ("10**30", 10**30),
        ("1.5", 1.5),
        ("text", "2"),
        ("boolean", True),
        ("null", None),
        ("nested 300 deep", nested(300)),
    ]:
        body = {"type": "payment_advanced", "occurred_at": occurred, "data": {"instance": value}}
        cases.append(_event("event data: instance", f"instance {label}", direct_pay, body, names="instance"))
    body = {"type": "payment_advanced", "occurred_at": occurred, "data": {"instance": 7}}  # no 7th: ignored
    cases.append(_event("event data: instance", "instance 7 of none", direct_pay, body, expect=frozenset({200})))
    for label, value in [
        ("lone surrogate", "\ud800"),
        ("2001 characters", "x" * 2001),
        ("NUL", "a\u0000b"),
        ("escape", "\u001b[31m"),
        ("number", 12),
        ("object", {"text": "x"}),
        ("nested 300 deep", nested(300)),
    ]:
        body = {"type": "materials_incomplete", "occurred_at": occurred, "data": {"note": value}}
        cases.append(_event("event data: note", f"note {label}", GENERAL, body, names="note"))
    body = {"type": "materials_incomplete", "occurred_at": occurred, "data": {"note": "第二次补件\n\t(tab)"}}
    cases.append(_event("event data: note", "note in Chinese with newline", GENERAL, body, expect=frozenset({200})))
    for label, data, names in [
        ("unknown key", {"surprise": 1}, "surprise"),
        ("a key another event takes", {"appointment_at": "2025-10-10T09:00:00+08:00"}, "appointment_at"),
        ("key with a lone surrogate", {"\ud800": 1}, "data."),
        ("empty key", {"": 1}, "data."),
        ("10 kB key", {"k" * 10_000: 1}, "data."),
        ("1000 keys", {f"k{i}": i for i in range(1000)}, "data."),
        ("nested 198 deep (the wedge)", nested(198), "data.a"),
        ("nested 300 deep", nested(300), "data.a"),
    ]:
        body = {"type": "materials_incomplete", "occurred_at": occurred, "data": data}
        cases.append(_event("event data: keys", label, GENERAL, body, names=names))
    for label, data in [("a list", [1, 2]), ("text", "x"), ("null", None), ("a number", 3)]:
        body = {"type": "materials_incomplete", "occurred_at": occurred, "data": data}
        cases.append(_event("event data: keys", f"data is {label}", GENERAL, body, names="data"))
    raw = b'{"type":"materials_incomplete","occurred_at":"%s","data":{"note":NaN}}' % occurred.encode()
    cases.append(
        Hostile("event data: note", "note NaN", "POST", "/v1/requests/{request}/events", raw=raw, names="note")
    )
    return cases


def envelope_cases(now: datetime) -> list[Hostile]:
    occurred = now.isoformat()
    cases = []
    for label, value in BAD_INSTANTS:
        body = {"type": "materials_incomplete", "occurred_at": value}
        cases.append(_event("event envelope", f"occurred_at {label}", GENERAL, body, names="occurred_at"))
    future = {"type": "materials_incomplete", "occurred_at": "2100-12-31T00:00:00+08:00"}
    cases.append(_event("event envelope", "occurred_at 2100 (future)", GENERAL, future, names="occurred_at"))
    for label, value, expect, names in [
        ("type a number", 7, 422, "type"),
        ("type a list", ["materials_incomplete"], 422, "type"),
        ("type empty", "", 422, "type"),
        ("type 65 characters", "a" * 65, 422, "type"),
        ("type uppercase", "MATERIALS_INCOMPLETE", 422, "type"),
        ("type with a lone surrogate", "materials\ud800", 422, "type"),
        ("type unknown", "hospital_booked", 422, "hospital_booked"),
        ("type the system's", "request_opened", 409, "request_opened"),
        ("type not accepted by the service", "report_issued", 422, "report_issued"),
    ]:
        body = {"type": value, "occurred_at": occurred}
        cases.append(_event("event envelope", label, GENERAL, body, expect=frozenset({expect}), names=names))
    body = {"type": "hospital_booked", "occurred_at": occurred, "data": nested(300)}
    cases.append(_event("event envelope", "unknown type, data 300 deep", GENERAL, body, names="data.a"))
    body = {"type": "materials_incomplete", "occurred_at": occurred, "surprise": True}
    cases.append(_event("event envelope", "an extra member", GENERAL, body, names="surprise"))
    body = {"type": "materials_incomplete", "occurred_at": occurred, "\ud800": True}
    cases.append(_event("event envelope", "an extra member named by a lone surrogate", GENERAL, body, names="body"))
    events = "/v1/requests/{request}/events"
    ok_event = json.dumps({"type": "materials_incomplete", "occurred_at": occurred}).encode()
    for label, raw, expect, names in [
        ("UTF-8 byte order mark", b"\xef\xbb\xbf" + ok_event, 422, "body"),
        ("not JSON", b"{", 422, "body"),
        ("empty body", b"", 422, "body"),
        ("JSON null", b"null", 422, "body"),
        ("a top-level list", b"[" + ok_event + b"]", 422, "body"),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, 400, "body"),
        (
            "a 5,000-digit number",
            b'{"type":"materials_incomplete","data":{"instance":' + b"9" * 5000 + b"}}",
            400,
            "body",
        ),
        ("invalid UTF-8", b'{"type":"materials_incomplete","occurred_at":"\xff\xfe"}', 400, "body"),
    ]:
        cases.append(Hostile("event body", label, "POST", events, raw=raw, expect=frozenset({expect}), names=names))
    twice = b'{"type":"hospital_booked","type":"materials_incomplete","occurred_at":"%s"}' % occurred.encode()
    cases.append(
        Hostile("event body", "a member twice (the last wins)", "POST", events, raw=twice, expect=frozenset({200}))
    )
    text = {"content-type": "text/plain"}
    cases.append(
        Hostile("event body", "JSON sent as text/plain", "POST", events, raw=ok_event, headers=text, names="body")
    )
    for label, key in [("spaces", "a key with spaces"), ("129 characters", "k" * 129), ("non-ASCII", "ключ".encode())]:
        body = {"type": "materials_incomplete", "occurred_at": occurred}
        more = {"headers": {"Idempotency-Key": key}, "names": "Idempotency-Key"}
        cases.append(_event("event envelope", f"Idempotency-Key {label}", GENERAL, body, **more))
    return cases


def open_cases() -> list[Hostile]:
    def body(**change: Any) -> dict[str, Any]:
        return {"service_id": GENERAL, "vendor_id": VENDOR, "policy_no": "P-HOSTILE", "insured": INSURED} | change

    cases = [
        Hostile("open", f"opened_at {label}", "POST", "/v1/requests", body=body(opened_at=value), names="opened_at")
        for label, value in BAD_INSTANTS
        if value is not None  # null is "now", as if it were not sent
    ]
    edge = body(opened_at="2000-01-01T00:00:00+08:00")
    cases.append(Hostile("open", "opened_at 2000-01-01", "POST", "/v1/requests", body=edge, expect=frozenset({201})))
    for label, change, names in [
        ("opened_at 2100 (future)", {"opened_at": "2100-12-31T00:00:00+08:00"}, "opened_at"),
        ("insured.name a lone surrogate", {"insured": {**INSURED, "name": "张\ud800"}}, "insured.name"),
        ("insured.name 101 characters", {"insured": {**INSURED, "name": "张" * 101}}, "insured.name"),
        ("insured member named by a surrogate", {"insured": {**INSURED, "\ud800": 1}}, "insured"),
        ("policy_no with NUL", {"policy_no": "P-\u00001"}, "policy_no"),
        ("external_ref 129 characters", {"external_ref": "r" * 129}, "external_ref"),
        ("service_id 200 characters", {"service_id": "a." + "b" * 198}, "service_id"),
        ("insured nested 300 deep", {"insured": nested(300)}, "insured"),
    ]:
        cases.append(Hostile("open", label, "POST", "/v1/requests", body=body(**change), names=names))
    bom = b"\xef\xbb\xbf" + json.dumps(body()).encode()
    cases.append(Hostile("open", "UTF-8 byte order mark", "POST", "/v1/requests", raw=bom, names="body"))
    return cases


def _cursor(content: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode()


def query_cases() -> list[Hostile]:
    cases = []
    for name, path in [
        ("opened_from", "/v1/requests"),
        ("opened_to", "/v1/requests"),
        ("period_from", "/v1/reports/compliance"),
        ("period_to", "/v1/reports/compliance"),
    ]:
        for label, value in BAD_INSTANTS:
            if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) < 1000:
                cases.append(Hostile("queries", f"{name} {label}", "GET", path, params={name: value}, names=name))
    for label, value in [
        ("naive", _cursor(["2025-01-01T00:00:00", "0" * 32])),
        ("a bare date", _cursor(["2025-01-01", "0" * 32])),
        ("year 1", _cursor(["0001-01-01T00:00:00+08:00", "0" * 32])),
        ("year 9999", _cursor(["9999-12-31T23:59:59-12:00", "0" * 32])),
        ("offset +23:01", _cursor(["2025-01-01T00:00:00+23:01", "0" * 32])),
        ("id a lone surrogate", _cursor(["2025-01-01T00:00:00+08:00", "\ud800"])),
        ("id a number", _cursor(["2025-01-01T00:00:00+08:00", 7])),
        ("three members", _cursor(["2025-01-01T00:00:00+08:00", "a", "b"])),
        ("an object", _cursor({"at": "2025-01-01T00:00:00+08:00"})),
        ("nested", base64.urlsafe_b64encode(b"[" * 300).decode()),
        ("not base64", "%%%"),
        ("513 characters", "A" * 513),
    ]:
        cases.append(
            Hostile("queries", f"cursor {label}", "GET", "/v1/requests", params={"cursor": value}, names="cursor")
        )
    for label, value in [("0", 0), ("101", 101), ("-1", -1), ("10**30", 10**30), ("text", "ten")]:
        cases.append(
            Hostile("queries", f"limit {label}", "GET", "/v1/requests", params={"limit": value}, names="limit")
        )
    for label, params, names in [
        ("clock_state unknown", {"clock_state": "late"}, "clock_state"),
        ("state unknown", {"state": "closed"}, "state"),
        ("vendor SQL", {"vendor": "' OR 1=1 --"}, "vendor"),
    ]:
        cases.append(Hostile("queries", label, "GET", "/v1/requests", params=params, names=names))
    cases.append(
        Hostile("queries", "format xml", "GET", "/v1/reports/compliance", params={"format": "xml"}, names="format")
    )
    due = "/v1/calendar/due"
    for label, value in BAD_INSTANTS:
        if isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) < 1000:
            params = {"start": value, "hours": 1}
            cases.append(Hostile("calendar", f"due start {label}", "GET", due, params=params, names="start"))
    for label, params, expect, names in [
        ("working_days 0", {"working_days": 0}, 422, "working_days"),
        ("working_days 1001", {"working_days": 1001}, 422, "working_days"),
        ("working_days 10**30", {"working_days": 10**30}, 422, "working_days"),
        ("hours 24001", {"hours": 24001}, 422, "hours"),
        ("two durations", {"hours": 1, "calendar_days": 1}, 422, "one of"),
        ("no duration", {}, 422, "one of"),
        ("1000 working days from 2100-12-31", {"working_days": 1000}, 200, None),
        ("1000 calendar days from 2100-12-31", {"calendar_days": 1000}, 200, None),
        ("24000 hours from 2100-12-31", {"hours": 24000}, 200, None),
    ]:
        params = {"start": "2100-12-31T23:59:59+08:00", **params}
        cases.append(
            Hostile("calendar", f"due {label}", "GET", due, params=params, expect=frozenset({expect}), names=names)
        )
    for label, year, expect in [
        ("2003", "2003", 422),
        ("2201", "2201", 422),
        ("text", "soon", 422),
        ("2200", "2200", 200),
    ]:
        cases.append(Hostile("calendar", f"year {label}", "GET", f"/v1/calendar/{year}", expect=frozenset({expect})))
    for label, request_id in [("129 characters", "r" * 129), ("a dot-dot", ".."), ("non-ASCII", "请求")]:
        path = f"/v1/requests/{request_id}"
        cases.append(Hostile("queries", f"request id {label}", "GET", path, expect=frozenset({404, 422})))
    return cases


def calendar_load_cases() -> list[Hostile]:
    def overlay(**change: Any) -> dict[str, Any]:
        source = {
            "title": "国务院办公厅关于2031年部分节假日安排的通知 (test)",
            "number": "T-2031",
            "date": "2030-11-01",
        }
        return {"source": source, "holidays": ["2031-01-01"], "makeup_workdays": []} | change

    put = "/v1/calendar/2031"
    dry = {"dry_run": "true"}
    cases = []
    for label, change, names in [
        ("holiday year 1", {"holidays": ["0001-01-01"]}, "0001-01-01"),
        ("holiday February 30", {"holidays": ["2031-02-30"]}, "2031-02-30"),
        ("holiday garbage", {"holidays": ["garbage"]}, "garbage"),
        ("holiday of another year", {"holidays": ["2032-01-01"]}, "2032-01-01"),
        ("holiday a number", {"holidays": [20310101]}, "holidays"),
        ("10,000 holidays", {"holidays": ["2031-01-01"] * 10_000}, "holidays"),
        (
            "source title a lone surrogate",
            {"source": {"title": "\ud800", "number": "x", "date": "2030-11-01"}},
            "title",
        ),
        ("source nested", {"source": nested(300)}, "source"),
    ]:
        case = Hostile(
            "calendar load", label, "PUT", put, body=overlay(**change), params=dry, role="admin", names=names
        )
        cases.append(replace(case, expect=frozenset({422})))
    # The notice's date is its text as published (shown with the year's source), not an instant the service reads.
    free = overlay(source={"title": "t", "number": "x", "date": "9999-12-31"})
    cases.append(
        Hostile(
            "calendar load",
            "source date 9999 (free text)",
            "PUT",
            put,
            body=free,
            params=dry,
            role="admin",
            expect=frozenset({200}),
        )
    )
    codec = "/codec/decode"
    for label, raw, expect in [
        ("not JSON", b"{", 400),
        ("payload a lone surrogate", b'{"payloads":[{"metadata":{"encoding":"\\ud800"},"data":""}]}', 400),
        (
            "not ours to decrypt",
            b'{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA=="},"data":"AAAA"}]}',
            422,
        ),
    ]:
        cases.append(Hostile("codec", label, "POST", codec, raw=raw, role="admin", expect=frozenset({expect})))
    return cases


def limit_cases() -> list[Hostile]:
    def limit(label: str, method: str, path: str, status: int, **more: Any) -> Hostile:
        names = "headers" if status == 431 else "body"
        return Hostile("limits", label, method, path, expect=frozenset({status}), names=names, **more)

    big = {"service_id": GENERAL, "vendor_id": VENDOR, "policy_no": "P-1", "insured": {**INSURED, "name": "x" * 2**21}}
    return [
        limit("20 kB of headers (whole)", "GET", "/v1/services", 431, headers={"X-Big": "x" * 20_000}),
        limit("1 MiB of headers (streamed)", "GET", "/v1/services", 431, headers={"X-Big": "x" * 2**20}),
        limit("a 20 kB URL", "GET", "/v1/services", 431, params={"q": "x" * 20_000}),
        limit("2 MiB declared", "POST", "/v1/requests", 413, body=big),
        limit("3 MiB chunked", "POST", "/v1/requests", 413, stream=3 * 2**20),
        limit("1 MiB + 1 byte chunked", "POST", "/v1/requests/{request}/events", 413, stream=2**20 + 1),
    ]


def all_cases(now: datetime) -> list[Hostile]:
    return [
        *event_data_cases(now),
        *envelope_cases(now),
        *open_cases(),
        *query_cases(),
        *calendar_load_cases(),
        *limit_cases(),
    ]


# -- judging ------------------------------------------------------------------------------------------
def problem_failure(status: int, content_type: str, content: bytes, names: str | None = None) -> str | None:
    """Why a 4xx answer is not a clear refusal (None when it is): problem+json whose status is the answer's,
    with a detail, naming the field. A 422 names it in an error's loc, its detail (`field: ...`) or a rule;
    a 409 carries the rule; a 413 or 431 says body or headers."""
    if content_type.split(";")[0].strip() != PROBLEM:
        return f"{status} as {content_type or 'no content type'}"
    try:
        problem = json.loads(content)
    except ValueError:
        return f"{status} with a body that is not JSON"
    if not isinstance(problem, dict) or problem.get("status") != status or not problem.get("detail"):
        return f"{status} problem without status or detail: {content[:200]!r}"
    detail = str(problem["detail"])
    where = " ".join([detail, *(".".join(map(str, e.get("loc", []))) for e in problem.get("errors", []))])
    if names is not None and names not in where:
        return f"{status} does not name {names!r}: {detail[:200]}"
    if status == 409 and not problem.get("rule"):
        return f"409 without a rule: {detail[:200]}"
    if status == 422 and not (problem.get("errors") or problem.get("rule") or _names_a_field(detail)):
        return f"422 naming no field: {detail[:200]}"
    if status in (413, 431) and not detail.startswith(("body", "headers")):
        return f"{status} not saying what is too large: {detail[:200]}"
    return None


def _names_a_field(detail: str) -> bool:
    head, colon, _ = detail.partition(":")
    return bool(colon) and " " not in head.strip()


@dataclass
class ClassTally:
    tried: int = 0
    expected: int = 0
    client_errors: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class Report:
    classes: dict[str, ClassTally] = field(default_factory=dict)
    wedged: list[str] = field(default_factory=list)  # requests that no longer accept a valid event
    diverged: list[str] = field(default_factory=list)  # read model and workflow disagree
    seconds: float = 0.0

    def record(self, kind: str, status: int, failure: str | None, expected: bool = True) -> None:
        tally = self.classes.setdefault(kind, ClassTally())
        tally.tried += 1
        tally.client_errors += 400 <= status < 500
        tally.server_errors += status >= 500 or status == 0
        tally.expected += failure is None and expected
        if failure is not None:
            tally.failures.append(failure)

    def merge(self, other: Report) -> None:
        for kind, theirs in other.classes.items():
            mine = self.classes.setdefault(kind, ClassTally())
            mine.tried += theirs.tried
            mine.expected += theirs.expected
            mine.client_errors += theirs.client_errors
            mine.server_errors += theirs.server_errors
            mine.failures += theirs.failures
        self.wedged += other.wedged
        self.diverged += other.diverged

    @property
    def tried(self) -> int:
        return sum(t.tried for t in self.classes.values())

    @property
    def failures(self) -> list[str]:
        found = [f"{kind}: {failure}" for kind, t in self.classes.items() for failure in t.failures]
        return [*found, *(f"wedged: {w}" for w in self.wedged), *(f"diverged: {d}" for d in self.diverged)]

    def line(self, backend: str) -> str:
        client = sum(t.client_errors for t in self.classes.values())
        server = sum(t.server_errors for t in self.classes.values())
        return (
            f"hostile inputs on {backend}: {self.tried} tried, {client} 4xx, {server} 5xx (or no answer), "
            f"{len(self.wedged)} wedged requests, {len(self.diverged)} read models apart from their workflow, "
            f"{len(self.failures)} failures, {self.seconds:.1f} s"
        )

    def table(self) -> str:
        rows = [f"{'input class':32} {'tried':>6} {'as expected':>12} {'4xx':>5} {'5xx':>5}"]
        for kind, t in self.classes.items():
            rows.append(f"{kind:32} {t.tried:6} {t.expected:12} {t.client_errors:5} {t.server_errors:5}")
        return "\n".join(rows)


# -- sending ------------------------------------------------------------------------------------------
@dataclass
class Target:
    service: str
    request_id: str


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        part = min(65536, size - sent)
        sent += part
        yield b"x" * part


async def send_case(http: httpx.AsyncClient, headers: dict[str, str], case: Hostile, request_id: str) -> httpx.Response:
    url = case.path.replace("{request}", request_id)
    if case.params:  # by hand: a lone surrogate goes as its (invalid) UTF-8 bytes, as a hostile client sends it
        url += "?" + urlencode({k: str(v).encode("utf-8", "surrogatepass") for k, v in case.params.items()})
    headers: dict[str, str | bytes] = {**headers, **case.headers}
    content: Any = None
    if case.stream is not None:
        content = _chunks(case.stream)
    elif case.raw is not None:
        content = case.raw
    elif case.body is not NO_BODY:
        content = json.dumps(case.body, ensure_ascii=True).encode()
    if content is not None:
        headers.setdefault("content-type", "application/json")
    return await http.request(case.method, url, content=content, headers=headers)


async def run_case(
    http: httpx.AsyncClient, keys: dict[str, dict[str, str]], case: Hostile, request_id: str, report: Report
) -> None:
    try:
        answer = await send_case(http, keys[case.role], case, request_id)
    except httpx.HTTPError as error:
        report.record(case.kind, 0, f"{case.label}: no answer ({type(error).__name__})")
        return
    failure = None
    if answer.status_code not in case.expect:
        failure = f"{case.label}: {answer.status_code}, expected {sorted(case.expect)}: {answer.text[:200]}"
    elif 400 <= answer.status_code < 500:
        found = problem_failure(answer.status_code, answer.headers.get("content-type", ""), answer.content, case.names)
        failure = found and f"{case.label}: {found}"
    report.record(case.kind, answer.status_code, failure)


async def open_targets(
    http: httpx.AsyncClient, headers: dict[str, str], opened_at: datetime, services: Iterable[str] = TARGETS
) -> dict[str, Target]:
    targets = {}
    for service in services:
        body = {
            "service_id": service,
            "vendor_id": VENDOR,
            "policy_no": "P-HOSTILE",
            "insured": INSURED,
            "opened_at": opened_at.isoformat(),
        }
        answer = await http.post("/v1/requests", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        targets[service] = Target(service, answer.json()["id"])
    return targets


def stored_events(engine: Engine, request_id: str) -> tuple[int, list[tuple[int, str, datetime, dict[str, Any]]]]:
    events, requests = table_of(EventRow), table_of(RequestRow)
    with engine.connect() as connection:
        rows = connection.execute(select(events).where(events.c.request_id == request_id)).all()
        revision = connection.execute(select(requests.c.revision).where(requests.c.id == request_id)).scalar_one()
    return revision, sorted((r.seq, r.type, r.occurred_at, dict(r.data)) for r in rows)


async def check_no_wedge(
    http: httpx.AsyncClient, headers: dict[str, str], engine: Engine, client: Client, target: Target, report: Report
) -> None:
    """The request still takes a valid event, and the read model holds exactly the workflow's events."""
    body = {"type": TARGETS[target.service], "occurred_at": datetime.now(SHANGHAI).isoformat(), "data": {"note": "ok"}}
    try:
        answer = await http.post(f"/v1/requests/{target.request_id}/events", json=body, headers=headers)
        if answer.status_code != 200:
            report.wedged.append(f"{target.service}: a valid event answered {answer.status_code}: {answer.text[:200]}")
    except httpx.HTTPError as error:
        report.wedged.append(f"{target.service}: a valid event got no answer ({type(error).__name__})")
    handle = client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(target.request_id))
    status = await handle.query(ServiceRequestWorkflow.get_status)
    in_workflow = sorted((e.seq, e.type, e.occurred_at, dict(e.data)) for e in status.events)
    revision, stored = stored_events(engine, target.request_id)
    if stored != in_workflow or revision != status.revision:
        report.diverged.append(
            f"{target.service}: read model revision {revision} with {len(stored)} events, "
            f"workflow revision {status.revision} with {len(in_workflow)}"
        )


async def probe(
    http: httpx.AsyncClient,
    keys: dict[str, dict[str, str]],
    engine: Engine,
    client: Client,
    cases: Iterable[Hostile] | None = None,
    report: Report | None = None,
) -> Report:
    """Every case, in order, each at the request opened for its service; then the wedge check on each."""
    report = report or Report()
    started = time.perf_counter()
    now = datetime.now(SHANGHAI)
    targets = await open_targets(http, keys["coordinator"], now - timedelta(days=1))
    for case in cases if cases is not None else all_cases(now - timedelta(minutes=1)):
        await run_case(http, keys, case, targets[case.service].request_id, report)
    for target in targets.values():
        await check_no_wedge(http, keys["coordinator"], engine, client, target, report)
    report.seconds = time.perf_counter() - started
    return report


async def _main(args: argparse.Namespace) -> None:
    from tests.live_stack import LiveStack
    from tests.postgres import PostgresServer

    directory = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    server = None
    url = None
    if args.database == "postgresql":
        server = PostgresServer()
        server.init()
        server.start()
        url = server.new_database("bench")
    stack = await LiveStack.start(directory, url)
    try:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            keys = {role: stack.headers(role) for role in stack.keys}
            report = await probe(http, keys, stack.engine, stack.client)
        print(report.table())
        for failure in report.failures:
            print("  FAILED", failure)
        print(report.line(args.database))
    finally:
        await stack.stop()
        if server is not None:
            server.stop()
            server.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
