"""archive_history: copy the workflow's history into the database before the workflow closes,
so audits never depend on Temporal's retention. Payloads stay encrypted as stored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.client import Client

from store.models import HistoryArchiveRow
from workflows.messages import ArchiveInput


class ArchiveActivities:
    def __init__(self, client: Client, engine: Engine) -> None:
        self.client = client
        self.engine = engine

    @activity.defn(name="archive_history")
    async def archive_history(self, request: ArchiveInput) -> str:
        handle = self.client.get_workflow_handle(request.workflow_id)
        history = await handle.fetch_history()
        text = history.to_json()
        digest = hashlib.sha256(text.encode()).hexdigest()
        info = activity.info()
        with Session(self.engine) as session:
            session.merge(
                HistoryArchiveRow(
                    request_id=request.request_id,
                    workflow_id=request.workflow_id,
                    run_id=info.workflow_run_id or "",
                    event_count=len(history.events),
                    sha256=digest,
                    history_json=text,
                    archived_at=datetime.now(UTC),
                )
            )
            session.commit()
        return digest
