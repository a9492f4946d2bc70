"""The pure domain: working-day calendar, service catalog, SLA clock engine.

Nothing here imports Temporal, FastAPI, SQLModel or a database, reads a file or package data, or
reads the clock: workflows replay this code, so it must be deterministic. It receives parsed
documents; `adapters/` reads the catalog and calendar files (tests/domain/test_architecture.py).
"""
