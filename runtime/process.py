"""Ending a process that used a Temporal client or worker."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn


def exit_after_temporal(code: int = 0) -> NoReturn:
    """Exit without interpreter finalization, once everything was shut down and flushed.

    The SDK's Rust core keeps threads that can outlive the interpreter: when finalization wins that
    race the process aborts ("PyGILState_Release: thread state ... must be current when
    releasing", exit 134) although it had stopped cleanly (temporalio/sdk-python#300, open). Seen
    here on a worker stopped by SIGTERM, which must exit 0 for its supervisor.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
