"""PUT /v1/calendar/{year} with days the notice sets in the previous December, over HTTP on the live
stack (issue 21 §3). Far years (2036, 2037) that no other test loads and no open clock reaches; the
recompute of open clocks through the same load is tests/workflows/test_calendar_previous_december.py."""

from __future__ import annotations

from typing import Any

import httpx

from harness.live_stack import LiveStack


def notice_body(year: int, holidays: list[str], makeups: list[str]) -> dict[str, Any]:
    return {
        "source": {
            "title": f"国务院办公厅关于{year}年部分节假日安排的通知 (test data)",
            "number": f"TEST-{year}",
            "date": f"{year - 1}-11-01",
        },
        "holidays": holidays,
        "makeup_workdays": makeups,
    }


async def test_loading_a_year_whose_notice_sets_days_in_the_previous_december_updates_that_year_over_http(
    http: httpx.AsyncClient, live: LiveStack
) -> None:
    admin = live.headers("admin")
    # TEST DATA: the 2037 notice gives 2036-12-31 (Wednesday) off and makes Saturday 2036-12-27 a working day.
    body_2037 = notice_body(2037, ["2036-12-31", "2037-01-01", "2037-01-02"], ["2036-12-27"])
    refused = await http.put("/v1/calendar/2037", params={"dry_run": "true"}, json=body_2037, headers=admin)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["rule"] == "calendar.previous_year_missing" and problem["source"] == "calendars/README.md"
    assert "2036, which has no data loaded" in problem["detail"]

    assert (await http.put("/v1/calendar/2036", json=notice_body(2036, ["2036-01-01"], []), headers=admin)).is_success
    dry = await http.put("/v1/calendar/2037", params={"dry_run": "true"}, json=body_2037, headers=admin)
    assert dry.status_code == 200, dry.text
    unchanged = (await http.get("/v1/calendar/2036", headers=admin)).json()
    assert (unchanged["holidays"], unchanged["makeup_workdays"]) == (["2036-01-01"], [])  # a dry run changes nothing

    loaded = await http.put("/v1/calendar/2037", json=body_2037, headers=admin)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["calendar_fingerprint"] == dry.json()["calendar_fingerprint"]
    previous = (await http.get("/v1/calendar/2036", headers=live.headers("auditor"))).json()
    assert (previous["holidays"], previous["makeup_workdays"]) == (["2036-01-01", "2036-12-31"], ["2036-12-27"])
    assert previous["source"].startswith(
        "国务院办公厅关于2036年部分节假日安排的通知 (test data)；国务院办公厅关于2037年部分节假日安排的通知 (test data)"
    )
    year = (await http.get("/v1/calendar/2037", headers=admin)).json()
    assert year["official"] is True and year["holidays"] == ["2037-01-01", "2037-01-02"]
    assert year["calendar_fingerprint"] == previous["calendar_fingerprint"] == loaded.json()["calendar_fingerprint"]
