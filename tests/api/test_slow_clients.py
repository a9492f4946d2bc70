"""Slow clients over real sockets cannot take the API from callers with a key (api/app.py Admission,
BodyLimit): a body under /v1/ needs a valid key before it is read, callers without one hold at most a
share of the capacity, and a body must arrive within a bound."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.app import create_app
from harness.keys import TEST_KEYS_SETTING
from harness.servers import free_port
from harness.serving import serving
from runtime.settings import Settings, TemporalSettings
from store.db import init_schema, make_engine
from store.keys import Role, create_key
from store.models import VendorRow

SLOW_CLIENTS = 210


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, str, Engine]]:
    """The API with its default capacity (200 calls, 50 of them without a key) and a 2 s body bound."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        calendar_dir=tmp_path,
        payload_keys=TEST_KEYS_SETTING,
        api_body_read_seconds=2.0,
    )
    engine = make_engine(settings.database_url)
    init_schema(engine)
    with Session(engine) as session:
        session.add(VendorRow(id="vendor-reliable", name="v"))
        session.commit()
    key = create_key(engine, Role.OPERATIONS)
    app = create_app(settings, TemporalSettings(address=f"127.0.0.1:{free_port()}"))
    with serving(app) as url:
        yield url, key, engine
    engine.dispose()


async def _answer(writer_reader: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bytes:
    reader, _ = writer_reader
    return await asyncio.wait_for(reader.readline(), 10)


async def test_slow_unauthenticated_bodies_leave_callers_with_a_key_answered_and_are_never_read(
    api: tuple[str, str, Engine],
) -> None:
    url, key, _ = api
    port = int(url.rsplit(":", 1)[1])
    streams = []
    try:
        # 210 clients without a key, each holding a request to /v1/requests open with a body that trickles
        for _ in range(SLOW_CLIENTS):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /v1/requests HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            streams.append((reader, writer))
        await asyncio.gather(*(w.drain() for _, w in streams))
        answers = await asyncio.gather(*(_answer(s) for s in streams))
        # refused before one more byte of their bodies is awaited
        assert {a.split(b" ")[1] for a in answers} == {b"401"}, {a[:20] for a in answers}
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            listed = await http.get("/v1/requests")
        assert listed.status_code == 200, listed.text
    finally:
        for _, writer in streams:
            writer.close()


async def test_slow_bodies_without_a_key_hold_only_their_share_and_a_body_must_arrive_in_time(
    api: tuple[str, str, Engine],
) -> None:
    url, key, _ = api
    port = int(url.rsplit(":", 1)[1])
    streams = []
    try:
        # outside /v1/ a body without a key is read (the codec's sign-in is such a call): they take the share
        for _ in range(SLOW_CLIENTS):
            streams.append(await asyncio.open_connection("127.0.0.1", port))
            streams[-1][1].write(b"POST /docs HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\n{")
        await asyncio.gather(*(w.drain() for _, w in streams))
        await asyncio.sleep(0.5)  # let every one of them reach the application
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            listed = await asyncio.gather(*(http.get("/v1/requests") for _ in range(20)))
            assert {r.status_code for r in listed} == {200}, {r.text[:200] for r in listed}
        answers = await asyncio.gather(*(_answer(s) for s in streams))
        statuses = sorted(a.split(b" ")[1].decode() for a in answers)
        # 50 held a slot until the 2 s bound ended them (408); the other 160 were turned away at once
        print(f"\nslow bodies without a key: {statuses.count('408')} timed out, {statuses.count('503')} refused")
        assert (statuses.count("408"), statuses.count("503")) == (50, SLOW_CLIENTS - 50), statuses
    finally:
        for _, writer in streams:
            writer.close()

    # a caller with a key is bounded too: its slow body ends in 408, not a slot held for ever
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    with contextlib.closing(writer):
        writer.write(
            b"POST /v1/requests HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n{{".encode()
        )
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
    assert line.split(b" ")[1] == b"408", line


async def test_a_key_the_database_cannot_check_answers_503_with_retry_after_not_500(
    api: tuple[str, str, Engine],
) -> None:
    url, key, engine = api
    with engine.begin() as connection:  # the keys cannot be read: what an unreachable database answers
        connection.execute(text("ALTER TABLE api_key RENAME TO api_key_away"))
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
        answer = await http.post("/v1/requests", json={})
    assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
