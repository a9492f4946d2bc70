"""Test data used by more than one test module, each piece defined once here. The files it names live
under tests/data/ (holiday notices, a test-only 2027 overlay) and tests/histories/ (the replay corpus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Shared with bench/ and tools/ (harness/scenarios.py), named here too for the tests.
from harness.scenarios import (
    CANARY_INSURED as CANARY_INSURED,
)
from harness.scenarios import (
    CANARY_POLICY as CANARY_POLICY,
)
from harness.scenarios import (
    INSURED_JSON as INSURED_JSON,
)
from harness.scenarios import (
    NATIONAL_DAY_BREACH as NATIONAL_DAY_BREACH,
)
from harness.scenarios import (
    NATIONAL_DAY_BREACH_DUE as NATIONAL_DAY_BREACH_DUE,
)
from harness.scenarios import (
    NATIONAL_DAY_BREACH_UNCONFIRMED as NATIONAL_DAY_BREACH_UNCONFIRMED,
)
from harness.scenarios import (
    NATIONAL_DAY_RESTART as NATIONAL_DAY_RESTART,
)
from harness.scenarios import (
    NATIONAL_DAY_RESTART_DUE as NATIONAL_DAY_RESTART_DUE,
)
from harness.scenarios import (
    NATIONAL_DAY_RESTART_LATE as NATIONAL_DAY_RESTART_LATE,
)

ROOT = Path(__file__).resolve().parents[1]  # the repository
FILES = Path(__file__).parent / "data"
NOTICES = FILES / "notices"  # the State Council's published notices 2018-2026, as text
HISTORIES = Path(__file__).parent / "histories"  # the replay corpus (python -m tests.histories.record)

# TEST DATA ONLY, shaped like a real notice: a year the package does not cover (the provisional ->
# exact path). The file is the one definition; OVERLAY_2027_BODY is the same data as HTTP sends it.
OVERLAY_2027 = FILES / "calendars" / "2027.yaml"


def _put_calendar_body(path: Path) -> dict[str, Any]:
    """An overlay file as the body of PUT /v1/calendar/{year}: the year goes in the URL, days as ISO dates."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        "source": document["source"],
        "holidays": [str(day) for day in document["holidays"]],
        "makeup_workdays": [str(day) for day in document["makeup_workdays"]],
    }


OVERLAY_2027_BODY = _put_calendar_body(OVERLAY_2027)

# The smallest valid catalog document: one service, one clock of 5 working days.
VALID_CATALOG = {
    "insurer": "test_insurer",
    "insurer_name": "Test",
    "services": [
        {
            "id": "test.svc",
            "name": {"zh": "测试", "en": "Test"},
            "source": {"document": "004", "lines": "1"},
            "accepts": ["materials_complete", "hospital_confirmed", "materials_incomplete"],
            "clocks": [
                {
                    "id": "c1",
                    "name": {"zh": "钟", "en": "Clock"},
                    "duration": {"working_days": 5},
                    "start": ["materials_complete"],
                    "stop": ["hospital_confirmed"],
                    "source": {"document": "004", "lines": "1"},
                }
            ],
        }
    ],
}
