"""A request keeps the catalog version it opened with: a fix to an entry grades only requests opened after it
(issue 21). On Temporal's time-skipping test server, with the real worker and a SQLite read model."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from adapters.catalog_files import default_catalog
from clients.opening import open_request
from runtime.settings import Settings
from sla.catalog.catalog import Catalog
from store.models import RequestRow
from tests.data import CANARY_INSURED, CANARY_POLICY
from tests.helpers import at, rows, send_update
from worker.build import build_worker

JAPAN = "axa.zhuoyue.japan_medical"


def catalog_as_of_version_two() -> Catalog:
    """The Japan entry as v2 had it: assign_specialist started on any customer_confirmed [002:471]."""
    document: dict[str, Any] = copy.deepcopy(default_catalog().pin(JAPAN).document)
    document["version"] = 2
    for clock in document["clocks"]:
        if clock["id"] == "assign_specialist":
            clock.update(start=["customer_confirmed"], in_order=False, exempt=[])
    return Catalog({JAPAN: document}, {JAPAN: "axa_002_zhuoyue.yaml"})


async def test_a_request_opened_under_version_two_keeps_its_rules_after_the_fix(
    env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> None:
    rejected = [
        ("materials_complete", at(2025, 11, 3, 10)),
        ("eligibility_rejected", at(2025, 11, 5, 10)),
        ("customer_confirmed", at(2025, 11, 5, 15)),
    ]
    async with build_worker(env.client, settings, engine):
        states = {}
        for catalog in (catalog_as_of_version_two(), default_catalog()):
            handle = await open_request(
                env.client,
                catalog,
                task_queue=settings.task_queue,
                service_id=JAPAN,
                vendor_id="vendor-reliable",
                policy_no=CANARY_POLICY,
                insured=CANARY_INSURED,
                opened_at=at(2025, 11, 3, 9),
            )
            for event, when in rejected:
                sent = await send_update(handle, event, when)
            specialist = next(c for c in sent.view.clocks if c.clock_id == "assign_specialist")
            [row] = rows(engine, RequestRow, id=sent.view.request_id)
            states[row.catalog_version] = specialist.state
    # v2's rule stays with the request that pinned it; v3 never starts the clock on a rejection's acknowledgement.
    assert states == {2: "breached", 3: "pending"}
