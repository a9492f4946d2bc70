"""Quota per policy year over HTTP, on SQLite and PostgreSQL: N opens allowed, the next refused with
the rule and its lines, an admin's override recorded in the audit pack, concurrent opens at the
boundary never beyond it, an idempotent re-open consuming nothing, and a ledger that never holds the
policy number (a keyed blind index instead)."""

from __future__ import annotations

import asyncio
import base64
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from adapters.catalog_files import default_catalog
from api.app import create_app
from api.quota_claims import give_back
from api.schemas import RequestCreate
from api.state import AppState
from harness.keys import TEST_KEYS_SETTING
from harness.live_stack import LiveStack
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from sla.policy import normalise_policy_no, policy_year_end
from store.calendar import CalendarSource
from store.db import init_schema, make_engine
from store.keys import Principal, Role, create_key
from store.models import QuotaClaimRow, VendorRow, table_of
from store.quota import PolicyYearConflict, QuotaExceeded, blind_index
from store.quota import claim as quota_claim
from tests.helpers import at, fresh_database, open_request

INPATIENT = "axa.green_channel.inpatient"  # 门诊、住院各1次 [004:55]
NURSING_AIDE = "zhongan.inpatient_nursing_aide"  # 30 per policy year (L3311)
UNLIMITED = "pingan_health.green_channel.outpatient"  # quota not stated
BLIND_KEY = base64.b64encode(b"test-only-blind-index-key-32byte").decode()
INSURED = {"name": "测试王五", "id_number": "110101199003071234"}
CLAIMS = table_of(QuotaClaimRow)


@pytest.fixture
def enforced(live: LiveStack) -> Iterator[LiveStack]:
    """The shared stack runs with quotas off (other suites reuse policy numbers); on for these tests."""
    settings = live.settings
    before = (settings.quota_enforced, settings.blind_index_key)
    settings.quota_enforced, settings.blind_index_key = True, BLIND_KEY
    try:
        yield live
    finally:
        settings.quota_enforced, settings.blind_index_key = before


def policy() -> str:
    return f"PQ-{uuid.uuid4().hex[:12].upper()}"


async def open_for_policy(
    http: httpx.AsyncClient, live: LiveStack, policy_no: str, role: str = "coordinator", **body: Any
) -> httpx.Response:
    """Open a green-channel admission for `policy_no` in the policy year 2025, unless `body` says otherwise."""
    defaults = {"policy_no": policy_no, "insured": INSURED, "opened_at": at(2025, 3, 3, 9).isoformat()}
    return await open_request(http, live, role, **(defaults | body))


def claims(engine: Engine, request_ids: list[str] | None = None, service_id: str | None = None) -> list[Any]:
    query = select(CLAIMS)
    if request_ids is not None:
        query = query.where(CLAIMS.c.request_id.in_(request_ids))
    if service_id is not None:
        query = query.where(CLAIMS.c.service_id == service_id)
    with engine.connect() as connection:
        return list(connection.execute(query).all())


def used(engine: Engine, policy_no: str, service_id: str) -> int:
    key = blind_index(base64.b64decode(BLIND_KEY), policy_no)
    with engine.connect() as connection:
        return len(
            connection.execute(
                select(CLAIMS).where(CLAIMS.c.blind_index == key, CLAIMS.c.service_id == service_id)
            ).all()
        )


def test_the_blind_index_is_keyed_and_one_per_policy_spelling() -> None:
    key = base64.b64decode(BLIND_KEY)
    assert normalise_policy_no(" p-2025-0001 ") == normalise_policy_no("P2025０００1") == "P20250001"
    assert blind_index(key, "p-2025-0001") == blind_index(key, "P20250001")
    assert blind_index(key, "P20250001") != blind_index(b"another key of thirty-two bytes!", "P20250001")
    assert blind_index(key, "P20250001") != blind_index(key, "P20250002")
    assert policy_year_end(date(2024, 2, 29)) == date(2025, 2, 28)
    assert policy_year_end(date(2025, 7, 1)) == date(2026, 7, 1)


async def test_n_opens_are_allowed_and_the_next_is_refused_with_the_rule_and_its_lines(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    live = enforced
    holder = policy()
    first = await open_for_policy(http, live, holder)
    assert first.status_code == 201, first.text
    refused = await open_for_policy(http, live, holder.lower())  # the same policy, spelled otherwise
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["rule"] == "quota.policy_year_exceeded"
    assert problem["source"].startswith("[004:") and problem["source"].endswith(f"(catalog {INPATIENT})")
    assert "[004:55]" in problem["detail"] and "门诊、住院各1次" in problem["quota"]["note"]
    assert problem["quota"] | {"note": ""} == {"limit": 1, "used": 1, "policy_year_start": "2025-01-01", "note": ""}
    # another policy, another service (the outpatient visit has its own use), another policy year: allowed
    assert (await open_for_policy(http, live, policy())).status_code == 201
    outpatient = await open_for_policy(http, live, holder, service_id="axa.green_channel.outpatient")
    assert outpatient.status_code == 201, outpatient.text
    last_year = await open_for_policy(http, live, holder, opened_at=at(2024, 12, 30, 9).isoformat())
    assert last_year.status_code == 201, last_year.text
    # a policy year that disagrees with the ones recorded (2024 and 2025 from 1 January) would be a
    # second count: refused, naming the recorded year
    anniversary = await open_for_policy(http, live, holder, policy_year_start="2024-07-01")
    assert anniversary.status_code == 409 and anniversary.json()["rule"] == "quota.policy_year_conflict"
    assert "2024-01-01" in anniversary.json()["detail"] or "2025-01-01" in anniversary.json()["detail"]
    # a policy on its own anniversary schedule counts in its own years
    yearly = policy()
    assert (await open_for_policy(http, live, yearly, policy_year_start="2024-07-01")).status_code == 201
    later = await open_for_policy(
        http, live, yearly, opened_at=at(2025, 6, 30, 9).isoformat(), policy_year_start="2024-07-01"
    )
    assert later.status_code == 409 and later.json()["rule"] == "quota.policy_year_exceeded"
    renewed = await open_for_policy(
        http, live, yearly, opened_at=at(2025, 7, 1, 9).isoformat(), policy_year_start="2025-07-01"
    )
    assert renewed.status_code == 201, renewed.text
    # N > 1: the nursing aide, 30 per policy year
    aide = policy()
    for n in range(30):
        opened = await open_for_policy(http, live, aide, service_id=NURSING_AIDE)
        assert opened.status_code == 201, (n, opened.text)
    over = await open_for_policy(http, live, aide, service_id=NURSING_AIDE)
    assert over.status_code == 409 and over.json()["quota"]["limit"] == 30 and over.json()["quota"]["used"] == 30
    assert "(L3311)" in over.json()["detail"]
    assert used(live.engine, aide, NURSING_AIDE) == 30
    # services without a quota claim nothing
    free = policy()
    for _ in range(2):
        assert (await open_for_policy(http, live, free, service_id=UNLIMITED)).status_code == 201
    assert used(live.engine, free, UNLIMITED) == 0


async def test_a_policy_year_start_must_begin_the_year_the_opening_falls_in(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    for start in ("2025-03-04", "2024-03-02", "2023-12-31"):  # after the opening; a year or more before
        response = await open_for_policy(http, enforced, policy(), policy_year_start=start)
        assert response.status_code == 422, (start, response.text)
        assert response.json()["rule"] == "quota.policy_year_mismatch"
    assert (await open_for_policy(http, enforced, policy(), policy_year_start="2024-03-04")).status_code == 201
    for bad in ("not-a-date", "9999-12-31", "1999-01-01"):
        assert (await open_for_policy(http, enforced, policy(), policy_year_start=bad)).status_code == 422, bad


async def test_an_admin_override_opens_beyond_the_quota_and_the_audit_pack_records_why(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    live = enforced
    holder = policy()
    first = await open_for_policy(http, live, holder)
    assert first.status_code == 201
    reason = "insurer approved a second admission after a transfer (ticket OPS-1234)"
    coordinator = await open_for_policy(http, live, holder, quota_override_reason=reason)
    assert coordinator.status_code == 403 and coordinator.json()["rule"] == "quota.override_admin_only"
    assert (await open_for_policy(http, live, holder, role="admin", quota_override_reason="  ")).status_code == 422
    override = await open_for_policy(http, live, holder, role="admin", quota_override_reason=reason)
    assert override.status_code == 201, override.text
    assert (await open_for_policy(http, live, holder, role="admin")).status_code == 409  # the override was one use

    audit = await http.get(f"/v1/requests/{override.json()['id']}/audit", headers=live.headers("auditor"))
    assert audit.status_code == 200, audit.text
    quota = audit.json()["quota"]
    assert (quota["quota_per_policy_year"], quota["use"], quota["policy_year_start"]) == (1, 2, "2025-01-01")
    assert quota["override"]["reason"] == reason and quota["override"]["by"].startswith("admin:")
    normal = (await http.get(f"/v1/requests/{first.json()['id']}/audit", headers=live.headers("auditor"))).json()
    assert normal["quota"]["use"] == 1 and normal["quota"]["override"] is None
    assert normal["quota"]["claimed_by"].startswith("coordinator:vendor-reliable:")


async def test_concurrent_opens_at_the_boundary_never_exceed_the_quota(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    live = enforced
    holder = policy()
    racing = await asyncio.gather(
        *(open_for_policy(http, live, holder, external_ref=f"race-{holder}-{n}") for n in range(8))
    )
    statuses = sorted(r.status_code for r in racing)
    assert statuses == [201] + [409] * 7, [r.text for r in racing if r.status_code not in (201, 409)]
    assert used(live.engine, holder, INPATIENT) == 1
    # the same external_ref racing: one request, one use, whoever wins
    again = policy()
    same = await asyncio.gather(*(open_for_policy(http, live, again, external_ref=f"same-{again}") for _ in range(6)))
    assert sorted(r.status_code for r in same) == [200] * 5 + [201], [(r.status_code, r.text[-200:]) for r in same]
    assert len({r.json()["id"] for r in same}) == 1
    assert used(live.engine, again, INPATIENT) == 1


async def test_an_idempotent_reopen_consumes_nothing_and_a_cancelled_request_keeps_its_use(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    live = enforced
    holder = policy()
    first = await open_for_policy(http, live, holder, external_ref=f"ext-{holder}")
    again = await open_for_policy(http, live, holder, external_ref=f"ext-{holder}")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert used(live.engine, holder, INPATIENT) == 1
    cancelled = await http.post(
        f"/v1/requests/{first.json()['id']}/events",
        json={"type": "customer_cancelled", "occurred_at": at(2025, 3, 3, 10).isoformat()},
        headers=live.headers("coordinator"),
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    # 申请成功后不接受改期或取消 [004:75]: a cancelled request was a use
    assert (await open_for_policy(http, live, holder)).status_code == 409


async def test_the_ledger_never_holds_the_policy_number(http: httpx.AsyncClient, enforced: LiveStack) -> None:
    live = enforced
    holder = "P-2025-CLEAR-000123"
    opened = await open_for_policy(http, live, holder)
    assert opened.status_code == 201, opened.text
    [row] = claims(live.engine, [opened.json()["id"]])
    clear = {holder, holder.lower(), normalise_policy_no(holder), normalise_policy_no(holder).lower()}
    with live.engine.connect() as connection:
        dump = " ".join(str(value) for r in connection.execute(select(CLAIMS)) for value in r)
        request_row = connection.execute(text("SELECT * FROM request WHERE id = :id"), {"id": row.request_id}).one()
    assert row.blind_index not in clear and row.blind_index.startswith("bi1_")
    assert not any(c in dump for c in clear)
    assert not any(c in " ".join(map(str, request_row)) for c in clear)  # the request keeps it sealed


def test_a_failed_open_gives_its_use_back(tmp_path: Path) -> None:
    """Temporal unreachable: nothing started, so the use is released (a retry can open it)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        calendar_dir=tmp_path,
        payload_keys=TEST_KEYS_SETTING,
        blind_index_key=BLIND_KEY,
    )
    engine = make_engine(settings.database_url)
    init_schema(engine)
    with Session(engine) as session:
        session.add(VendorRow(id="vendor-reliable", name="v"))
        session.commit()
    key = create_key(engine, Role.ADMIN)
    app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"))
    body = {"service_id": INPATIENT, "vendor_id": "vendor-reliable", "policy_no": policy(), "insured": INSURED}
    with serving(app) as url:
        response = httpx.post(f"{url}/v1/requests", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code >= 500
    assert claims(engine) == []
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database(request, tmp_path, "ledger"))
    init_schema(engine)
    yield engine
    engine.dispose()


def test_opens_racing_with_overlapping_policy_year_starts_claim_a_once_a_year_service_once(ledger: Engine) -> None:
    """Many clients at once (threads released by one barrier, one connection each) claim the only use of
    one policy, half of them counting from 1 January and half from 1 March: one wins, every other is
    refused (quota spent, or a second policy-year schedule)."""
    races, contenders = 40, 8
    key = base64.b64decode(BLIND_KEY)
    won_by_two = 0
    for race in range(races):
        blind = blind_index(key, f"P-RACE-{race}-{uuid.uuid4().hex[:6]}")
        barrier = threading.Barrier(contenders)

        def contend(n: int, blind: str = blind, barrier: threading.Barrier = barrier) -> bool:
            barrier.wait()
            try:
                quota_claim(
                    ledger,
                    blind=blind,
                    service_id=INPATIENT,
                    policy_year_start=date(2025, 1, 1) if n % 2 else date(2025, 3, 1),
                    quota=1,
                    request_id=uuid.uuid4().hex,
                    claimed_by="t",
                )
            except (QuotaExceeded, PolicyYearConflict):
                return False
            return True

        with ThreadPoolExecutor(contenders) as pool:
            won = sum(pool.map(contend, range(contenders)))
        assert won >= 1
        won_by_two += won > 1
    print(f"\n{ledger.dialect.name}: races won by more than one open: {won_by_two} / {races}")
    assert won_by_two == 0


async def test_a_failed_open_keeps_the_use_a_twin_started_workflow_holds_and_gives_back_one_nobody_holds(
    http: httpx.AsyncClient, enforced: LiveStack
) -> None:
    """The failure path of an open that claimed a use (its start answered 503) while a twin open with the
    same external_ref started the workflow: before, the use was given back and the request ran without one."""
    live = enforced
    state = AppState(
        live.settings,
        TemporalSettings(address=live.temporal.address),
        live.engine,
        default_catalog(),
        CalendarSource(live.settings.calendar_dir, live.engine),
    )
    admin = Principal("test", Role.ADMIN, None, None, "test")
    opened_at = at(2025, 3, 3, 9)
    holder = policy()
    opened = await open_for_policy(http, live, holder, external_ref=f"twin-{holder}")
    assert opened.status_code == 201, opened.text
    fields = {"service_id": INPATIENT, "vendor_id": "vendor-reliable", "insured": INSURED, "opened_at": opened_at}
    twin = RequestCreate.model_validate(fields | {"policy_no": holder, "external_ref": f"twin-{holder}"})
    await give_back(state, admin, twin, opened.json()["id"], opened_at)
    assert used(live.engine, holder, INPATIENT) == 1  # the running workflow keeps its use

    nobody = policy()
    lone = RequestCreate.model_validate(fields | {"policy_no": nobody, "external_ref": f"lone-{nobody}"})
    never_started = uuid.uuid4().hex
    quota_claim(
        live.engine,
        blind=blind_index(base64.b64decode(BLIND_KEY), nobody),
        service_id=INPATIENT,
        policy_year_start=date(2025, 1, 1),
        quota=1,
        request_id=never_started,
        claimed_by="t",
    )
    assert used(live.engine, nobody, INPATIENT) == 1
    await give_back(state, admin, lone, never_started, opened_at)
    assert used(live.engine, nobody, INPATIENT) == 0  # no workflow holds it: given back
