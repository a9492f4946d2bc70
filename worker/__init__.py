"""Process entry points: the Temporal worker (and, later, the one-command embedded stack)."""
