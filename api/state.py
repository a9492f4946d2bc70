"""What the app holds for its lifetime: settings, the database engine, the catalog, the calendar
source and a lazily connected Temporal client (an unreachable Temporal is a 503, not a crash)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import Engine
from temporalio.client import Client

from activities.calendar_source import CalendarSource
from runtime.settings import Settings, TemporalSettings
from runtime.temporal import build_data_converter
from sla.catalog.loader import Catalog, default_catalog
from store.db import make_engine


@dataclass
class AppState:
    settings: Settings
    temporal: TemporalSettings
    engine: Engine
    catalog: Catalog
    calendars: CalendarSource
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def build(cls, settings: Settings, temporal: TemporalSettings) -> AppState:
        engine = make_engine(settings.database_url)
        return cls(settings, temporal, engine, default_catalog(), CalendarSource(settings.calendar_dir, engine))

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
