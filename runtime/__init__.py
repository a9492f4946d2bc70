"""Process-level plumbing shared by the worker, the API, tests and the replayer."""
