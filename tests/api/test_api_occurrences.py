"""Per-occurrence clocks and advisories through the whole stack (HTTP, workflow, read model, /metrics),
on SQLite and PostgreSQL. Instants worked by hand."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.helpers import at, instant, open_request, send


def _outcomes(metrics: str, clock: str) -> dict[str, float]:
    found = {}
    for outcome in ("met", "breached"):
        pattern = rf'^sla_clock_outcomes_total\{{[^}}]*clock="{clock}"[^}}]*outcome="{outcome}"[^}}]*\}} (\S+)'
        found[outcome] = sum(float(v) for v in re.findall(pattern, metrics, re.M))
    return found


async def test_every_deposit_top_up_has_its_own_deadline_outcome_and_count(http: httpx.AsyncClient, live: Any) -> None:
    # 001:L565: each top-up is arranged by 24:00 of the next working day after it is asked for.
    before = _outcomes((await http.get("/metrics", headers=live.metrics_headers())).text, "deposit_top_up")
    opened = await open_request(
        http, live, service_id="unnamed.ci_inpatient.direct_pay", opened_at=at(2025, 11, 3, 9).isoformat()
    )
    assert opened.status_code == 201, opened.text
    request_id = opened.json()["id"]
    # Tue 11-04 10:00 -> next working day Wed 11-05 -> due 2025-11-06 00:00
    assert (await send(http, live, request_id, "payment_requested", at(2025, 11, 4, 10))).status_code == 200
    # Thu 11-06 15:00 -> next working day Fri 11-07 -> due 2025-11-08 00:00
    assert (await send(http, live, request_id, "payment_requested", at(2025, 11, 6, 15))).status_code == 200
    # Sent last, effective Wed 11-05 18:00: closes the oldest open top-up (the first), in time.
    view = (await send(http, live, request_id, "payment_advanced", at(2025, 11, 5, 18))).json()
    top_ups = sorted((c for c in view["clocks"] if c["clock_id"] == "deposit_top_up"), key=lambda c: c["instance"])
    assert [(c["instance"], c["state"]) for c in top_ups] == [(1, "met"), (2, "breached")]
    assert instant(top_ups[0]["due_at"]) == at(2025, 11, 6) and instant(top_ups[0]["stopped_at"]) == at(2025, 11, 5, 18)
    assert instant(top_ups[1]["due_at"]) == at(2025, 11, 8) and instant(top_ups[1]["breached_at"]) == at(2025, 11, 8)
    after = _outcomes((await http.get("/metrics", headers=live.metrics_headers())).text, "deposit_top_up")
    assert (after["met"] - before["met"], after["breached"] - before["breached"]) == (1, 1)


async def test_an_advisory_is_shown_on_the_request_and_the_event_is_still_accepted(
    http: httpx.AsyncClient, live: Any
) -> None:
    # 002:344: apply 4 days before the planned purchase - advice, not a refusal. Opened Mon 11-03 09:00
    # for a purchase planned Wed 11-05: the latest recommended application is 24:00 of 11-01.
    opened = await open_request(
        http, live, service_id="axa.zhuoyue.special_drug", opened_at=at(2025, 11, 3, 9).isoformat()
    )
    request_id = opened.json()["id"]
    sent = await send(
        http,
        live,
        request_id,
        "materials_complete",
        at(2025, 11, 3, 10),
        planned_purchase_at="2025-11-05T09:00:00+08:00",
    )
    assert sent.status_code == 200, sent.text
    [advisory] = sent.json()["advisories"]
    assert advisory["rule"] == "customer_window.apply_four_days_before_purchase"
    assert advisory["source"].startswith("[002:344]")
    assert instant(advisory["limit"]) == at(2025, 11, 2) and advisory["limit"].endswith("+08:00")
