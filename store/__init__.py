"""SQLModel tables and the engine: the read model, outcomes, archives (and later keys, overlays)."""
