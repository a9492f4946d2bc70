"""What the tests and the benches both run, so that neither imports the other (ARCHITECTURE.md, Packages):

- servers and ports (`servers`), the test-only payload key of the replay corpus (`keys`), a PostgreSQL
  server of their own (`postgres`);
- the live stack in process (`live_stack`) or as separate processes (`processes`), and the read model's
  invariants (`readmodel_checks`);
- the scenarios a bench measures and a test runs smaller: a seeded read model and its queries
  (`readmodel`), replay of the corpus (`replay`), concurrent events (`concurrency`), hostile input
  (`hostile`, `hostile_cases`), faults mid-stream (`faults`).
"""
