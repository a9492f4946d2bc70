"""The audit page's content from the audit pack (api/audit_pack.py): the same figures the JSON gives,
arranged for a person. Nothing is computed here but layout: the clocks' rows (web/timeline.py) and
which events were recorded late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sla.calendar.working import WorkingCalendar
from web import timefmt
from web.timeline import Chart, Entry, chart, cycles

# An event received this long after the instant it reports is a retroactive record: shown as such.
RETROACTIVE_AFTER = timedelta(minutes=5)


def instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class ClockRow:
    clock: dict[str, Any]
    spec: dict[str, Any] | None
    charts: list[tuple[int, Chart]]  # (cycle number, its row)
    budget_text: str


def _marker_time(at: datetime, kind: str) -> str:
    local = timefmt.local(at)
    del kind  # every midnight is written as 24:00 of the day before, as the due instant is
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{local - timedelta(days=1):%m-%d} 24:00"
    return f"{local:%m-%d %H:%M}"


def clock_rows(pack: dict[str, Any], calendar: WorkingCalendar, now: datetime) -> list[ClockRow]:
    def day_info(day: date) -> tuple[str, str | None]:
        return calendar.day_kind(day), calendar.day_name(day)

    service = (pack.get("terms") or {}).get("service") or {}
    specs = {c["id"]: c for c in service.get("clocks", [])}
    rows = []
    for clock in pack["clocks"]:
        timeline = [Entry(instant(e["at"]), e["kind"], e.get("detail", "")) for e in clock.get("timeline", [])]  # type: ignore[arg-type]
        charts = [
            (cycle.number, chart(cycle, day_info, _marker_time))
            for cycle in cycles(timeline, instant(clock.get("due_at")), instant(clock.get("stopped_at")), now)
        ]
        rows.append(ClockRow(clock, specs.get(clock["clock_id"]), charts, clock.get("duration", "")))
    return rows


def event_rows(pack: dict[str, Any]) -> list[dict[str, Any]]:
    """The log, each event with whether it was recorded late and the corrections it caused."""
    corrections: dict[datetime, list[dict[str, Any]]] = {}
    for correction in pack.get("corrections", []):
        at = instant(correction["at"])
        if at is not None:
            corrections.setdefault(at, []).append(correction)
    rows = []
    for event in pack.get("events", []):
        occurred, received = instant(event["occurred_at"]), instant(event["received_at"])
        late = occurred is not None and received is not None and received - occurred > RETROACTIVE_AFTER
        caused = corrections.get(received, []) if received is not None else []
        rows.append(event | {"retroactive": late, "late_by": (received - occurred) if late else None, "caused": caused})  # type: ignore[operator]
    return rows


def page_context(pack: dict[str, Any], calendar: WorkingCalendar, now: datetime, workflow_link: str) -> dict[str, Any]:
    request = pack["request"]
    return {
        "pack": pack,
        "request_row": request,
        "service": (pack.get("terms") or {}).get("service") or {},
        "clocks": clock_rows(pack, calendar, now),
        "events": event_rows(pack),
        "refused": pack.get("refused_events", []),
        "senders": pack.get("senders", {}),
        "replay": pack.get("replay", {}),
        "history": pack.get("history") or {},
        "temporal_link": workflow_link,
    }
