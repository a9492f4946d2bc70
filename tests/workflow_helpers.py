"""Only for bench/worker_memory.py, which imports open_test_request from here (bench is not the tests'
to change). The helpers are in tests/helpers.py, where this one is open_workflow; tests import that."""

from tests.helpers import open_workflow as open_test_request

__all__ = ["open_test_request"]
