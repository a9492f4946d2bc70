"""archive_history: copy the workflow's history into the database before the workflow closes,
so audits never depend on Temporal's retention. Payloads stay encrypted as stored.

A request that continued as new has one history per run: each run archives the one before it as it
starts (that run is closed by then), and the last run archives itself as it closes."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowHistory

from store.db import write_transaction
from store.models import HistoryArchiveRow
from store.upsert import upsert
from workflows.messages import ArchiveInput


class ArchiveActivities:
    def __init__(self, client: Client, engine: Engine) -> None:
        self.client = client
        self.engine = engine

    @activity.defn(name="archive_history")
    async def archive_history(self, request: ArchiveInput) -> str:
        run_id = request.run_id or activity.info().workflow_run_id or ""
        handle = self.client.get_workflow_handle(request.workflow_id, run_id=run_id or None)
        history = await handle.fetch_history()
        return await asyncio.to_thread(self._store, request, run_id, history)

    def _store(self, request: ArchiveInput, run_id: str, history: WorkflowHistory) -> str:
        """The blocking part, on a thread: serialize, hash and store (an upsert: a retry rewrites it)."""
        text = history.to_json()
        digest = hashlib.sha256(text.encode()).hexdigest()
        row = {
            "request_id": request.request_id,
            "run": request.run,
            "closing": request.closing,
            "workflow_id": request.workflow_id,
            "run_id": run_id,
            "event_count": len(history.events),
            "sha256": digest,
            "history_json": text,
            "archived_at": datetime.now(UTC),
        }
        with write_transaction(self.engine) as connection:
            upsert(connection, HistoryArchiveRow, [row])
        return digest
