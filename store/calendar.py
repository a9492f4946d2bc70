"""Loaded years in the database: storing one raises the calendar generation, which tells every
worker's cached calendar (activities/calendar_source.py) that it is stale."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from adapters.overlay_yaml import dump_overlay
from sla.calendar.overlay import YearData
from store.db import write_transaction
from store.models import CalendarOverlayRow, table_of
from store.upsert import upsert

OVERLAYS = table_of(CalendarOverlayRow)


def store_overlay(engine: Engine, overlay: YearData, loaded_by: str, loaded_at: datetime) -> int:
    """Store the year (replacing an earlier load of it) and return the new calendar generation."""
    with write_transaction(engine) as connection:
        latest = connection.execute(select(func.coalesce(func.max(OVERLAYS.c.generation), 0))).scalar_one()
        generation = int(latest) + 1
        row = {
            "year": overlay.year,
            "document": dump_overlay(overlay),
            "loaded_by": loaded_by,
            "loaded_at": loaded_at,
            "generation": generation,
        }
        upsert(connection, OVERLAYS, [row])
    return generation
