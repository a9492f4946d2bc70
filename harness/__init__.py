"""What the tests and the benches both run: servers and ports, the test-only payload key, a PostgreSQL
server of their own, the live stack in process (`live_stack`) or as separate processes (`processes`),
and the read model's invariants (`readmodel_checks`). tests/ and bench/ import this package, never each
other (ARCHITECTURE.md, Packages)."""
