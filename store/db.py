"""The engine and the schema. The schema comes from alembic migrations (store/migrations), applied
by an explicit step (`slatrack db init`, the worker and the stack at start), never on import."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlmodel import create_engine

from store import models  # noqa: F401  (registers the tables)

MIGRATIONS = Path(__file__).parent / "migrations"


# A pool that covers the API's thread pool (40 threads) and the worker's activity threads; a caller
# that still finds it empty gets an error after POOL_TIMEOUT seconds (the API answers 503), never a hang.
POOL_SIZE, MAX_OVERFLOW, POOL_TIMEOUT = 20, 30, 10.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=MAX_OVERFLOW,
            pool_timeout=POOL_TIMEOUT,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):  # type: ignore[no-untyped-def]
            connection.isolation_level = None  # transactions are begun by _begin below, not by pysqlite
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # A write transaction takes SQLite's write lock when it begins: a deferred one that reads
            # first and then writes fails with SQLITE_BUSY_SNAPSHOT when another writer got in between.
            write = connection.get_execution_options().get("write_transaction", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_timeout=POOL_TIMEOUT
    )


# SQLite has one writer at a time. Threads of one process that wait for it inside SQLite poll with
# its busy handler, which backs off up to 100 ms between tries: a commit that frees the lock after a
# millisecond can leave the next writer asleep for the rest of its step. Writers of one process queue
# on a lock of their own first, which hands over at once; other processes still meet the busy handler.
_SQLITE_WRITERS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> threading.Lock | None:
    """The lock this process's SQLite writers queue on (None on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return None  # PostgreSQL locks the rows a transaction writes
    with _WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(engine, threading.Lock())


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-modify-write transaction (BEGIN IMMEDIATE on SQLite; rows locked FOR UPDATE on PostgreSQL)."""
    lock = writer_lock(engine)
    with lock if lock is not None else nullcontext(), engine.connect() as connection:
        connection.execution_options(write_transaction=True)
        with connection.begin():
            yield connection


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def init_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
