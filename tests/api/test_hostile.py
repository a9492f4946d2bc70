"""No poison pills (issue 11): hostile input over HTTP on SQLite and PostgreSQL, as an attacker or a buggy
vendor integration sends it. Every answer is a 4xx application/problem+json that names the field, never a
5xx; afterwards every request an input was aimed at still accepts a valid event, and its events in the
read model are the workflow's. The inputs: the hand-written cases of bench/hostile.py (what went wrong
before), events whose data hypothesis draws against the domain's own schema, and schemathesis over the
OpenAPI document, positive and negative. Then the doors behind the API: a client of Temporal itself, and
the local activity given content that fails the engine. Each backend prints one summary line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType as HistoryEventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.advance import RequestActivities
from activities.projection import ProjectionWriter
from adapters.catalog_files import default_catalog
from harness.hostile import Report, Target, check_no_wedge, open_targets, probe, problem_failure, stored_events
from harness.hostile_cases import GENERAL, MARKUP_NOTES, WINDOW_FIELDS, all_cases, nested
from harness.keys import TEST_KEYS
from harness.live_stack import LiveStack
from harness.projected import opening
from runtime.codec import EncryptionCodec
from sla.calendar.timeutil import SHANGHAI
from sla.engine.model import RecordedEvent
from sla.event_data import (
    INSTANCE,
    INSTANCE_EVENTS,
    INSTANT_KEYS,
    NOTE,
    EventDataError,
    accepted_keys,
    check_event_data,
    parse_instant,
)
from sla.events import CLOSING_EVENTS, EventType
from store.calendar import CalendarSource
from tests.data import NATIONAL_DAY_BREACH
from workflows.ids import request_workflow_id
from workflows.messages import AdvanceInput, RecordEventInput
from workflows.service_request import ServiceRequestWorkflow

DATA_EXAMPLES = 40  # events with drawn data, per backend
JSON = {"content-type": "application/json"}
SCHEMA_EXAMPLES = 8  # per operation and generation mode


@pytest.fixture(scope="module")
def report(live: LiveStack, request: pytest.FixtureRequest) -> Iterator[Report]:
    """One tally per backend for the whole module, printed as the suite's summary line."""
    tally, started = Report(), time.perf_counter()
    yield tally
    tally.seconds = time.perf_counter() - started
    backend = "postgresql" if live.settings.database_url.startswith("postgresql") else "sqlite"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\n{tally.table()}\n{tally.line(backend)}")


def keys_of(live: LiveStack) -> dict[str, dict[str, str]]:
    return {role: live.headers(role) for role in live.keys}


# -- the hand-written cases ---------------------------------------------------------------------------
async def test_every_hand_written_hostile_input_is_a_clear_4xx_and_wedges_no_request(
    http: httpx.AsyncClient, live: LiveStack, report: Report
) -> None:
    found = await probe(http, keys_of(live), live.engine, live.client)
    report.merge(found)
    assert found.failures == [], "\n".join(found.failures)
    assert found.tried >= 400


def test_the_hand_written_cases_cover_every_window_field_of_the_catalog() -> None:
    read = {(event, key) for event, keys in _catalog_reads().items() for key in keys if key not in (NOTE, INSTANCE)}
    assert read == {(event, key) for _, event, key in WINDOW_FIELDS}
    labels = [(c.kind, c.label) for c in all_cases(datetime.now(SHANGHAI))]
    assert len(labels) == len(set(labels)), "every case has its own label in its class"


# -- hypothesis: event data against the domain's schema ------------------------------------------------
ODD_CHARACTERS = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\ufeff", "\u202e", "\n"])
TEXT = st.text(st.one_of(st.characters(), ODD_CHARACTERS), max_size=30)
OFFSETS = st.sampled_from(
    [
        timezone(timedelta(hours=h, minutes=m))
        for h, m in [(8, 0), (0, 0), (-12, 0), (14, 0), (23, 1), (-13, 0), (5, 45)]
    ]
)
INSTANTS = st.one_of(
    st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=OFFSETS).map(datetime.isoformat),
    st.datetimes(datetime(1999, 12, 30), datetime(2101, 1, 2), timezones=OFFSETS).map(datetime.isoformat),
    st.datetimes(datetime(1999, 12, 30), datetime(2101, 1, 2)).map(datetime.isoformat),  # naive
    st.dates().map(lambda d: d.isoformat()),
    TEXT,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
DATA = st.dictionaries(
    st.one_of(st.sampled_from(sorted({NOTE, INSTANCE, *INSTANT_KEYS})), TEXT),
    st.one_of(INSTANTS, JSON_VALUES, st.integers(-2, 1002), st.just(nested(250))),
    max_size=3,
)


def _fuzz_events(base_url: str, headers: dict[str, str], targets: dict[str, Target], report: Report) -> list[str]:
    """Events on the targets' services with drawn data: the API answers exactly what the domain's schema says
    (the same message for the same first bad key), a valid one is judged (200, or 409 from a window)."""
    choices = sorted(
        (service, kind.value)
        for service in targets
        for kind in default_catalog().get(service).accepts
        if kind not in CLOSING_EVENTS
    )
    failures: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as http:

        @given(choice=st.sampled_from(choices), data=DATA)
        @settings(
            max_examples=DATA_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(choice: tuple[str, str], data: dict[str, Any]) -> None:
            service, event = choice
            occurred = (datetime.now(SHANGHAI) - timedelta(minutes=1)).isoformat()
            body = {"type": event, "occurred_at": occurred, "data": data}
            try:
                check_event_data(event, data)
                refusal = None
            except EventDataError as error:
                refusal = error.message
            url = f"/v1/requests/{targets[service].request_id}/events"
            try:
                answer = http.post(url, content=json.dumps(body).encode(), headers=headers | JSON)
            except httpx.HTTPError as error:
                report.record("hypothesis: event data", 0, f"{event} {data!r:.200}: no answer ({error!r})")
                return
            problem = answer.json() if answer.headers.get("content-type") == "application/problem+json" else {}
            failure = None
            if 400 <= answer.status_code < 500:
                failure = problem_failure(answer.status_code, answer.headers["content-type"], answer.content)
            if refusal is not None and (answer.status_code != 422 or problem.get("detail") != refusal):
                failure = f"the schema refuses it ({refusal}) but the API answered {answer.status_code}"
            if refusal is None and answer.status_code not in (200, 409):
                failure = f"valid data answered {answer.status_code}: {answer.text[:200]}"
            if failure:
                failures.append(f"{event} {data!r:.200}: {failure}")
            report.record("hypothesis: event data", answer.status_code, failure)

        check()
    return failures


async def test_drawn_event_data_is_answered_as_the_domain_schema_says_and_wedges_nothing(
    http: httpx.AsyncClient, live: LiveStack, report: Report
) -> None:
    headers = live.headers("coordinator")
    targets = await open_targets(http, headers, datetime.now(SHANGHAI) - timedelta(days=1))
    # In a thread: the worker runs on this event loop and must keep serving while the examples are sent.
    failures = await asyncio.to_thread(_fuzz_events, live.base_url, headers, targets, report)
    for target in targets.values():
        await check_no_wedge(http, headers, live.engine, live.client, target, report)
    assert failures == [], "\n".join(failures)
    assert report.wedged == [] and report.diverged == [], (report.wedged, report.diverged)


# -- schemathesis over the OpenAPI document --------------------------------------------------------
def _fuzz_operation(
    operation: Any, mode: GenerationMode, headers: dict[str, str], bound: dict[str, str] | None, report: Report
) -> list[str]:
    kind, failures = f"schemathesis {mode.value}", []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=bound))
    @settings(
        max_examples=SCHEMA_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        name = f"{case.method} {case.formatted_path} {case.query or ''}"
        try:
            answer = case.call(headers=headers, timeout=30)
        except Exception as error:  # the transport's own errors: no answer is a failure too
            failures.append(f"{name}: no answer ({error!r})")
            report.record(kind, 0, "no answer")
            return
        failure = None
        if answer.status_code >= 500:
            failure = f"{answer.status_code}: {answer.text[:200]}"
        elif answer.status_code >= 400:
            content_type = (answer.headers.get("content-type") or [""])[0]
            failure = problem_failure(answer.status_code, content_type, answer.content)
        if failure:
            failures.append(f"{name}: {failure}")
        report.record(kind, answer.status_code, failure)

    try:
        check()
    except Exception as error:  # e.g. no negative data exists for an operation without inputs
        if "Unsatisfiable" not in type(error).__name__ and "negative" not in str(error).lower():
            failures.append(f"{operation.method.upper()} {operation.path} {mode.value}: {error!r:.300}")
    return failures


def _fuzz_schema(base_url: str, keys: dict[str, dict[str, str]], request_id: str, report: Report) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # An admin reaches every route; loading a calendar year would change the shared stack, so that one
        # goes with a coordinator's key (the body is validated before the role is checked).
        headers = keys["coordinator" if operation.method.upper() == "PUT" else "admin"]
        bound = {"request_id": request_id} if "{request_id}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz_operation(operation, mode, headers, bound, report)
    return failures


async def test_schemathesis_positive_and_negative_finds_no_5xx_and_only_clear_4xx(
    http: httpx.AsyncClient, live: LiveStack, report: Report
) -> None:
    headers = live.headers("coordinator")
    opened = await open_targets(http, headers, datetime.now(SHANGHAI) - timedelta(days=1), [GENERAL])
    target = opened[GENERAL]
    failures = await asyncio.to_thread(_fuzz_schema, live.base_url, keys_of(live), target.request_id, report)
    await check_no_wedge(http, headers, live.engine, live.client, target, report)
    assert failures == [], "\n".join(failures)
    assert report.wedged == [] and report.diverged == [], (report.wedged, report.diverged)


# -- the HTTP protocol itself -----------------------------------------------------------------------
def _raw_exchange(base_url: str, request: bytes) -> bytes:
    """Send `request` whole, then read until the server closes: a reset raises instead."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


async def test_headers_past_the_limit_while_arriving_get_a_431_problem_not_a_reset(
    live: LiveStack, report: Report
) -> None:
    # uvicorn's own answer was a text/plain 400 and a close with these bytes unread: a reset at the client.
    request = b"GET /v1/services HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 2**20 + b"\r\n\r\n"
    answer = await asyncio.to_thread(_raw_exchange, live.base_url, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head
    assert b"content-type: application/problem+json" in head.lower() and b"connection: close" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 431 and problem["detail"].startswith("headers:")
    assert "instance" not in problem, "answered by the protocol (api/server.py), before any app code"
    malformed = await asyncio.to_thread(_raw_exchange, live.base_url, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400 ") and b"application/problem+json" in malformed
    report.record("limits: raw socket", 431, None)
    report.record("limits: raw socket", 400, None)


# -- behind the API: a client of Temporal itself ----------------------------------------------------
async def test_a_client_of_temporal_itself_gets_no_bad_data_into_history(
    http: httpx.AsyncClient, live: LiveStack, report: Report
) -> None:
    headers = live.headers("coordinator")
    target = (await open_targets(http, headers, datetime.now(SHANGHAI) - timedelta(days=1), ["axa.advance_payment"]))[
        "axa.advance_payment"
    ]
    handle = live.client.get_workflow_handle_for(ServiceRequestWorkflow.run, request_workflow_id(target.request_id))

    async def accepted_updates() -> int:
        history = await handle.fetch_history()
        return sum(
            e.event_type == HistoryEventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in history.events
        )

    before = await accepted_updates()
    now = datetime.now(SHANGHAI) - timedelta(minutes=1)
    for data in [
        {"planned_admission_at": "garbage"},
        {"planned_admission_at": 1700000000},
        {"planned_admission_at": "0001-01-01T00:00:00+08:00"},
        {"note": "x" * 3000},
        {"instance": 1},  # a key this event does not take
        {"surprise": nested(50)},
    ]:
        command = RecordEventInput("admission_notice_issued", now, "coordinator:direct", data)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ServiceRequestWorkflow.record_event, command)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "EventDataError", cause
        assert cause.details[0]["rule"] == "event.data_invalid"
        report.record("temporal client, no API", 422, None)  # what the API answers for this refusal
    # Deeper than the SDK's decoder goes: the worker cannot read the argument and refuses the update.
    command = RecordEventInput("admission_notice_issued", now, "coordinator:direct", {"a": nested(220)})
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ServiceRequestWorkflow.record_event, command)
    report.record("temporal client, no API", 422, None)
    assert await accepted_updates() == before, "a refused update leaves no trace in history"
    after = Report()
    await check_no_wedge(http, headers, live.engine, live.client, target, after)
    report.merge(after)
    assert after.wedged == [] and after.diverged == [], (after.wedged, after.diverged)


# -- behind the validators: the local activity ---------------------------------------------------------
@pytest.fixture
def advance(engine: Engine, calendar_dir: Path) -> RequestActivities:
    return RequestActivities(CalendarSource(calendar_dir, engine), ProjectionWriter(engine, EncryptionCodec(TEST_KEYS)))


def _opened(service_id: str, opened_at: datetime) -> AdvanceInput:
    return opening(service_id, opened_at, "r-hostile", "vendor-reliable")


def _garbage_notice(seq: int, at: datetime) -> RecordedEvent:
    # What only a worker without today's checks, or a hand-made history, could still hand the activity.
    notice = EventType.ADMISSION_NOTICE_ISSUED
    return RecordedEvent(notice, at, seq, "test", {"planned_admission_at": "garbage"}, received_at=at)


def test_content_that_fails_the_engine_refuses_the_event_and_is_never_retried(
    advance: RequestActivities, engine: Engine
) -> None:
    opened_at = datetime(2025, 10, 9, 9, tzinfo=SHANGHAI)
    first = _opened("axa.advance_payment", opened_at)
    result = ActivityEnvironment().run(advance.advance_request, first)
    view = replace(
        first.view, revision=result.revision, clocks=result.clocks, calendar_fingerprint=result.calendar_fingerprint
    )
    bad = replace(first, view=view, new_event=_garbage_notice(2, opened_at + timedelta(hours=1)), history_length=9)
    with pytest.raises(ApplicationError) as refused:
        ActivityEnvironment().run(advance.advance_request, bad)
    assert refused.value.non_retryable and refused.value.type == "EventDataError"
    assert refused.value.details[0]["rule"] == "event.unplannable"
    revision, events = stored_events(engine, "r-hostile")
    assert revision == result.revision and [seq for seq, *_ in events] == [1], "nothing was written"


def test_a_failure_without_the_new_event_too_is_a_bug_and_stays_retryable(advance: RequestActivities) -> None:
    opened_at = datetime(2025, 10, 9, 9, tzinfo=SHANGHAI)
    first = _opened("axa.advance_payment", opened_at)
    # A log the engine cannot read whatever comes next (an instant that is no instant): no event is to blame.
    unreadable = RecordedEvent(EventType.MATERIALS_COMPLETE, opened_at, 2, "test", received_at=opened_at)
    object.__setattr__(unreadable, "occurred_at", "not an instant")
    poisoned = replace(first.view, events=[*first.view.events, unreadable])
    incomplete = RecordedEvent(EventType.MATERIALS_INCOMPLETE, opened_at, 3, "t", received_at=opened_at)
    change = replace(first, view=poisoned, new_event=incomplete)
    with pytest.raises(Exception) as failed:
        ActivityEnvironment().run(advance.advance_request, change)
    assert not (isinstance(failed.value, ApplicationError) and failed.value.non_retryable), failed.value


# -- the schema itself: what the domain reads, nothing more ---------------------------------------------
def _catalog_reads() -> dict[str, set[str]]:
    """Per event, the data keys the catalog's windows and per-occurrence clocks read."""
    reads: dict[str, set[str]] = {}
    for entry in default_catalog():
        for window in entry.windows:
            if window.reference.field:
                reads.setdefault(window.reference.event.value, set()).add(window.reference.field)
            if window.event_field:
                reads.setdefault(window.event.value, set()).add(window.event_field)
        for clock in entry.clocks:
            if clock.per_occurrence:
                for event in (*clock.stop, *clock.exempt, *clock.void):
                    reads.setdefault(event.value, set()).add(INSTANCE)
    return reads


def test_the_schema_takes_exactly_the_keys_the_catalog_reads_and_a_note() -> None:
    reads = _catalog_reads()
    schema = {
        kind.value: set(accepted_keys(kind.value)) - {NOTE}
        for kind in EventType
        if set(accepted_keys(kind.value)) != {NOTE}
    }
    assert schema == reads
    assert {kind.value for kind in INSTANCE_EVENTS} == {e for e, keys in reads.items() if INSTANCE in keys}
    assert accepted_keys("request_opened") == accepted_keys("no_such_event") == (NOTE,)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2000-01-01T00:00:00+08:00", True),
        ("1999-12-31T23:59:59.999999+08:00", False),
        ("2100-12-31T23:59:59.999999+08:00", True),
        ("2101-01-01T00:00:00+08:00", False),
        ("2025-10-10T09:00+08:00", True),
        ("2025-10-10T09:00:00Z", True),
        ("2025-10-10T09:00:00z", False),
        ("2025-10-10T09:00:00+14:00", True),
        ("2025-10-10T09:00:00+14:01", False),
        ("2025-10-10T09:00:00-12:00", True),
        ("2025-10-10T09:00:00-12:01", False),
        ("2025-10-10T09:00:00", False),
        ("2025-10-10", False),
        (" 2025-10-10T09:00:00+08:00", False),
    ],
)
def test_an_instant_is_rfc_3339_with_a_real_offset_inside_the_business_range(text: str, ok: bool) -> None:
    if ok:
        assert parse_instant(text) == datetime.fromisoformat(text)
    else:
        with pytest.raises(ValueError, match="RFC 3339"):
            parse_instant(text)


def test_a_refusal_names_the_key_and_never_echoes_the_value() -> None:
    huge = "2025-10-10T09:00:00+08:00" + "\ud800" * 100_000
    for data, key in [({"appointment_at": huge}, "appointment_at"), ({"\ud800" * 1000: 1}, "\\ud800")]:
        with pytest.raises(EventDataError) as refused:
            check_event_data("hospital_confirmed", data)
        assert key in refused.value.message and len(refused.value.message) < 400
        refused.value.message.encode("utf-8")  # always sendable


# -- the pages show what they are given as text -------------------------------------------------------
async def _sign_in(browser: httpx.AsyncClient, key: str) -> None:
    form = await browser.get("/login")
    token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = await browser.post("/login", data={"key": key, "csrf": token, "next": "/requests"})
    assert answer.status_code == 303, answer.text


async def test_the_pages_show_hostile_notes_filters_and_paths_as_text(live: LiveStack, http: httpx.AsyncClient) -> None:
    opened = await http.post(
        "/v1/requests", json=NATIONAL_DAY_BREACH | {"policy_no": "P-HOSTILE-PAGES"}, headers=live.headers("coordinator")
    )
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["id"]
    for minute, note in enumerate(MARKUP_NOTES.values()):
        body = {
            "type": "materials_incomplete",
            "occurred_at": f"2025-10-21T09:{minute:02d}:00+08:00",
            "data": {"note": note},
        }
        answer = await http.post(f"/v1/requests/{request_id}/events", json=body, headers=live.headers("coordinator"))
        assert answer.status_code == 200, answer.text
    # refused (no cancelling once accepted, [004:75]), with a hostile note: the refusal shows as text too
    cancel = {"type": "customer_cancelled", "occurred_at": "2025-10-21T10:00:00+08:00", "data": {"note": "<b>x</b>"}}
    refused = await http.post(f"/v1/requests/{request_id}/events", json=cancel, headers=live.headers("coordinator"))
    assert refused.status_code in (409, 422), refused.text
    async with httpx.AsyncClient(base_url=live.base_url, timeout=60) as browser:
        await _sign_in(browser, live.keys["auditor"])
        page = (await browser.get(f"/requests/{request_id}")).text
        markup = [note for note in MARKUP_NOTES.values() if set(note) & set("<>\"&'")]
        assert [note for note in markup if note in page] == []  # each arrives escaped, none verbatim
        assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
        assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;" in page
        assert "&lt;/text&gt;&lt;/svg&gt;&lt;svg onload=alert(2)&gt;" in page
        assert "{{ 7*7 }}" in page and ">49<" not in page  # shown, not evaluated
        assert "&amp;lt;b&amp;gt;" in page  # an entity in a note stays the characters typed
        assert refused.json()["rule"] in page
        hostile_query = '"><script>alert(4)</script>'
        listing = await browser.get("/requests", params={"vendor": hostile_query, "opened_from": hostile_query})
        assert listing.status_code == 200 and "<script>alert(4)" not in listing.text
        assert "&#34;&gt;&lt;script&gt;alert(4)&lt;/script&gt;" in listing.text
        missing = await browser.get("/requests/%3Cscript%3Ealert(5)%3C%5Cscript%3E")
        assert missing.status_code == 404 and "<script>alert(5)" not in missing.text
        login = await browser.get("/login", params={"next": '/requests"><script>alert(6)</script>'})
        assert "<script>alert(6)" not in login.text
