"""What the app holds for its lifetime: settings, the database engine, the catalog, the calendar
source and a lazily connected Temporal client (an unreachable Temporal is a 503, not a crash)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio.client import Client

from adapters.catalog_files import default_catalog
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import build_data_converter
from sla.catalog.catalog import Catalog
from store.calendar import CalendarSource
from store.db import make_engine


@dataclass
class AppState:
    settings: Settings
    temporal: TemporalSettings
    engine: Engine
    catalog: Catalog
    calendars: CalendarSource
    # "Now" for every judgement the API makes (breached, at risk, future events, dry runs): injected,
    # so tests can put the API at any hour of the day.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def build(
        cls, settings: Settings, temporal: TemporalSettings, clock: Callable[[], datetime] | None = None
    ) -> AppState:
        engine = make_engine(settings.database_url)
        state = cls(settings, temporal, engine, default_catalog(), CalendarSource(settings.calendar_dir, engine))
        if clock is not None:
            state.clock = clock
        return state

    def now(self) -> datetime:
        return self.clock()

    async def client(self) -> Client:
        async with self._lock:
            if self._client is None:
                self._client = await Client.connect(
                    self.temporal.address,
                    namespace=self.temporal.namespace,
                    api_key=self.temporal.api_key,
                    data_converter=build_data_converter(self.settings.keys()),
                    lazy=True,
                )
            return self._client
