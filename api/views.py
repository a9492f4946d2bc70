"""Read-model rows as API views, evaluated at the moment of the request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from api.access import in_reach
from api.schemas import AdvisoryOut, ClockOut, ClockSummary, CorrectionReviewOut, EventOut, RequestOut, RequestSummary
from sla.calendar.working import WorkingCalendar
from sla.catalog.describe import describe_clock
from sla.catalog.model import ClockSpec, ServiceEntry
from sla.catalog.parse import parse_pinned
from sla.engine.model import ClockState
from sla.engine.reading import effective_state, is_at_risk, remaining
from store.keys import Principal


def visible(principal: Principal, row: Any) -> bool:
    """Object-level authorization: a key sees its vendor's or insurer's requests, or all."""
    return in_reach(principal, vendor_id=row.vendor_id, insurer_id=row.insurer_id)


def pinned_entry(row: Any) -> ServiceEntry | None:
    if not row.pinned_terms:
        return None
    return parse_pinned(row.pinned_terms, f"pinned {row.catalog_digest}")


def _remaining_seconds(row: Any, spec: ClockSpec | None, calendar: WorkingCalendar, now: datetime) -> int | None:
    """Working time left for a paused clock is frozen (the engine's); a running one counts down from now."""
    if row.state == ClockState.PAUSED:
        return int(row.view["remaining_seconds"])
    if spec is None:
        return None
    left = remaining(spec.duration.unit, calendar, effective_state(row.state, row.due_at, now), row.due_at, now)
    return int(left.total_seconds()) if left is not None else None


def _clock_out(row: Any, spec: ClockSpec | None, calendar: WorkingCalendar, now: datetime) -> ClockOut:
    """The engine's ClockView as stored, with what only the instant of the request decides."""
    state = effective_state(row.state, row.due_at, now)
    stored = {k: v for k, v in (row.view or {}).items() if k in ClockOut.model_fields}
    return ClockOut(
        **stored
        | {
            "state": state,
            "at_risk": is_at_risk(row.state, row.at_risk_from, row.due_at, now),
            "breached_at": stored.get("breached_at") or (row.due_at if state == ClockState.BREACHED else None),
            "remaining_seconds": _remaining_seconds(row, spec, calendar, now),
            "name_zh": spec.name_zh if spec else row.clock_id,
            "name_en": spec.name_en if spec else row.clock_id,
            "party": spec.party.value if spec else "",
            "duration": spec.duration.describe() if spec else "",
            "source": spec.source.cite() if spec else "",
        }
    )


def _request_fields(row: Any) -> dict[str, Any]:
    """What a request's view and its summary in a list both say of it."""
    names = ("id", "service_id", "insurer_id", "vendor_id", "status", "opened_at")
    return {name: getattr(row, name) for name in names}


def clocks_out(
    stored: Iterable[Any], entry: ServiceEntry | None, calendar: WorkingCalendar, now: datetime
) -> list[ClockOut]:
    """A request's clocks as its view shows them: in the entry's order, each read at `now` (stored rows,
    or the workflow's clocks shaped like them: api/reads.answer_view)."""
    specs = {c.id: c for c in entry.clocks} if entry else {}
    order = {c.id: i for i, c in enumerate(entry.clocks)} if entry else {}
    return [
        _clock_out(c, specs.get(c.clock_id), calendar, now)
        for c in sorted(stored, key=lambda c: (order.get(c.clock_id, 99), c.instance))
    ]


def request_out(
    row: Any,
    clocks: Sequence[Any],
    events: Sequence[Any],
    calendar: WorkingCalendar,
    now: datetime,
    reviews: Sequence[Any] = (),
) -> RequestOut:
    return RequestOut(
        **_request_fields(row),
        closed_at=row.closed_at,
        closed_received_at=row.closed_received_at,
        external_ref=row.external_ref,
        revision=row.revision,
        calendar_fingerprint=row.calendar_fingerprint,
        clocks=clocks_out(clocks, pinned_entry(row), calendar, now),
        advisories=[AdvisoryOut(**a) for a in row.advisories or []],
        events=[EventOut(**{k: v for k, v in e._mapping.items() if k in EventOut.model_fields}) for e in events],
        correction_reviews=[
            CorrectionReviewOut(**{k: v for k, v in r._mapping.items() if k in CorrectionReviewOut.model_fields})
            for r in reviews
        ],
    )


def summary(row: Any, clocks: Sequence[Any], now: datetime) -> RequestSummary:
    return RequestSummary(
        **_request_fields(row),
        clocks=[
            ClockSummary(
                clock_id=c.clock_id,
                instance=c.instance,
                state=effective_state(c.state, c.due_at, now),
                at_risk=is_at_risk(c.state, c.at_risk_from, c.due_at, now),
                due_at=c.due_at,
                provisional=c.provisional,
            )
            for c in sorted(clocks, key=lambda c: (c.clock_id, c.instance))
        ],
    )


def _catalog_clock(clock: ClockSpec) -> dict[str, Any]:
    """One clock of a catalog entry, as GET /v1/catalog shows it: the events it follows and its terms."""
    terms = describe_clock(clock)
    return {
        "id": clock.id,
        "name_zh": clock.name_zh,
        "name_en": clock.name_en,
        "party": clock.party.value,
        "duration": {clock.duration.unit.value: clock.duration.amount},
        "warn_at": list(clock.warn_at),
        "start_all_of": list(clock.start_all_of),
        "stop": list(clock.stop),
        "pause": list(clock.pause),
        "resume": list(clock.resume),
        "restart": list(clock.restart),
        "exempt": list(clock.exempt),
        "void": list(clock.void),
        "notice": {"event": clock.notice.event.value, "lead": clock.notice.lead.describe()} if clock.notice else None,
        "in_order": clock.in_order,
        "per_occurrence": clock.per_occurrence,
        "start_step": {"zh": clock.start_step[0], "en": clock.start_step[1]},
        "terms": {"zh": terms.summary.zh, "en": terms.summary.en},
        "source": clock.source.cite(),
        "quote": clock.quote,
        "notes": clock.notes,
    }


def describe_entry(entry: ServiceEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "version": entry.version,
        "insurer": entry.insurer,
        "insurer_name": entry.insurer_name,
        "name_zh": entry.name_zh,
        "name_en": entry.name_en,
        "source": entry.source.cite(),
        "eligibility": entry.eligibility,
        "quota_per_policy_year": entry.quota_per_policy_year,
        "quota_note": entry.quota_note,
        "availability": entry.availability,
        "accepts": sorted(entry.accepts),
        "clocks": [_catalog_clock(c) for c in entry.clocks],
        "customer_windows": [
            {
                "id": w.id,
                "kind": w.kind.value,
                "event": w.event.value,
                "reference": w.reference.event.value,
                "description": w.description,
                "source": w.source.cite(),
                "quote": w.quote,
            }
            for w in entry.windows
        ],
    }
