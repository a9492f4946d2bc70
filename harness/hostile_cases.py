"""The hand-written hostile inputs of harness/hostile.py, by class: what went wrong before (the 500s, the
wedges, what was accepted though wrong, the limits) and its neighbours. Each case says the statuses it
may get and what its problem must name."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

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
    ("axa.zhuoyue.special_drug", "materials_complete", "planned_purchase_at"),
]


# Free text that is valid (a note is any text a person writes) but markup or template syntax: accepted,
# stored, and shown by every page as the text it is (tests/api/test_hostile.py, tests/e2e/test_pages.py).
MARKUP_NOTES = {
    "script tag": "<script>alert('note')</script>",
    "attribute break-out": '"><img src=x onerror=alert(1)>',
    "svg break-out": "</text></svg><svg onload=alert(2)>",
    "template syntax": "{{ 7*7 }} {% raw %}${7*7}",
    "javascript url": "javascript:alert(3)",
    "entity": "&lt;b&gt; &amp; &#x3C;",
    "right-to-left override": "\u202egnp.exe",
}


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


def _window_instant_cases(occurred: str) -> list[Hostile]:
    """Bad and edge instants in the fields a customer window reads."""
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
    return cases


def _instance_and_note_cases(occurred: str) -> list[Hostile]:
    """An occurrence's `instance` and a free-text `note`: wrong types, sizes and characters, and what passes."""
    cases = []
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
    for label, value in MARKUP_NOTES.items():
        body = {"type": "materials_incomplete", "occurred_at": occurred, "data": {"note": value}}
        cases.append(_event("event data: note", f"note {label}", GENERAL, body, expect=frozenset({200})))
    return cases


def event_data_cases(now: datetime) -> list[Hostile]:
    occurred = now.isoformat()
    cases = [*_window_instant_cases(occurred), *_instance_and_note_cases(occurred)]
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


def _envelope_member_cases(occurred: str) -> list[Hostile]:
    """The event's own members: occurred_at, type, and members it does not have."""
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
    return cases


def _raw_body_cases(occurred: str) -> list[Hostile]:
    """Bodies that are not one JSON object in UTF-8, or not sent as JSON."""
    cases = []
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
    return cases


def envelope_cases(now: datetime) -> list[Hostile]:
    occurred = now.isoformat()
    cases = [*_envelope_member_cases(occurred), *_raw_body_cases(occurred)]
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


def _list_query_cases() -> list[Hostile]:
    """The list's and the report's query parameters: instants, cursor, limit, filters, format."""
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
    return cases


def _calendar_due_cases() -> list[Hostile]:
    """GET /v1/calendar/due: bad starts, durations out of range, and the largest ones that still answer."""
    cases = []
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
    return cases


def query_cases() -> list[Hostile]:
    cases = [*_list_query_cases(), *_calendar_due_cases()]
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


def _overlay_cases() -> list[Hostile]:
    """PUT /v1/calendar/{year} (a dry run): days and sources the overlay parser refuses, and a free-text date."""

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
    return cases


def calendar_load_cases() -> list[Hostile]:
    cases = _overlay_cases()
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
