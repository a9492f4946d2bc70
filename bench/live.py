"""An in-process stack (harness/live_stack.py) on either backend, for the benches that drive the API."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.live_stack import LiveStack


@asynccontextmanager
async def live_stack(database: str, prefix: str) -> AsyncIterator[LiveStack]:
    """A live stack on SQLite in a temp folder, or on a PostgreSQL server of its own; stopped after."""
    from harness.live_stack import LiveStack
    from harness.postgres import PostgresServer

    server = None
    url = None
    if database == "postgresql":
        server = PostgresServer()
        server.init()
        server.start()
        url = server.new_database("bench")
    stack = await LiveStack.start(Path(tempfile.mkdtemp(prefix=prefix)), url)
    try:
        yield stack
    finally:
        await stack.stop()
        if server is not None:
            server.stop()
            server.remove()
