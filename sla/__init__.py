"""The pure domain: working-day calendar, service catalog, SLA clock engine.

Nothing here imports Temporal, FastAPI, SQLModel or a database, and nothing reads the clock:
workflows replay this code, so it must be deterministic.
"""
