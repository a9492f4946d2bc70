"""Turn one catalog document (a plain mapping) into a validated `ServiceEntry`.

Pure: no files, no YAML. Workflows pin the mapping at opening and parse it again on replay.
"""

from __future__ import annotations

from typing import Any

from sla.catalog.model import (
    ClockSpec,
    CustomerWindow,
    Duration,
    DurationUnit,
    Party,
    ServiceEntry,
    Source,
    WindowKind,
    WindowReference,
)
from sla.errors import CatalogError
from sla.events import CLOSING_EVENTS, SYSTEM_EVENTS, EventType


class _Where:
    """Builds error messages that name the file and the entry."""

    def __init__(self, origin: str, service_id: str) -> None:
        self.origin, self.service_id = origin, service_id

    def error(self, message: str) -> CatalogError:
        return CatalogError(f"{self.origin}: service {self.service_id!r}: {message}")


def _event(name: Any, where: _Where, context: str) -> EventType:
    try:
        return EventType(str(name))
    except ValueError:
        raise where.error(f"{context}: unknown event {name!r}") from None


def _events(values: Any, where: _Where, context: str) -> tuple[EventType, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise where.error(f"{context}: expected a list of event names")
    return tuple(_event(v, where, context) for v in values)


def _source(value: Any, where: _Where, context: str) -> Source:
    if not isinstance(value, dict) or not value.get("document") or not value.get("lines"):
        raise where.error(f"{context}: 'source' needs document and lines")
    return Source(str(value["document"]), str(value["lines"]))


def _duration(value: Any, where: _Where, context: str) -> Duration:
    if not isinstance(value, dict) or len(value) != 1:
        raise where.error(f"{context}: duration is one of working_days, calendar_days, hours: N")
    ((unit, amount),) = value.items()
    try:
        parsed_unit = DurationUnit(unit)
    except ValueError:
        raise where.error(f"{context}: unknown duration unit {unit!r}") from None
    if not isinstance(amount, int) or amount < 1:
        raise where.error(f"{context}: duration must be a positive whole number, got {amount!r}")
    return Duration(parsed_unit, amount)


def _names(value: Any, where: _Where, context: str) -> tuple[str, str]:
    if not isinstance(value, dict) or not value.get("zh") or not value.get("en"):
        raise where.error(f"{context}: 'name' needs zh and en")
    return str(value["zh"]), str(value["en"])


def _clock(doc: Any, accepts: frozenset[EventType], where: _Where) -> ClockSpec:
    if not isinstance(doc, dict) or not doc.get("id"):
        raise where.error("every clock needs an id")
    context = f"clock {doc['id']!r}"
    name_zh, name_en = _names(doc.get("name"), where, context)
    try:
        party = Party(doc.get("party", "vendor"))
    except ValueError:
        raise where.error(f"{context}: unknown party {doc.get('party')!r}") from None
    start = _events(doc.get("start"), where, f"{context} start")
    stop = _events(doc.get("stop"), where, f"{context} stop")
    warn_at = tuple(float(f) for f in doc.get("warn_at", (0.5, 0.8)))
    spec = ClockSpec(
        id=str(doc["id"]),
        name_zh=name_zh,
        name_en=name_en,
        party=party,
        duration=_duration(doc.get("duration"), where, context),
        start_all_of=start,
        stop=stop,
        source=_source(doc.get("source"), where, context),
        warn_at=warn_at,
        pause=_events(doc.get("pause"), where, f"{context} pause"),
        resume=_events(doc.get("resume"), where, f"{context} resume"),
        restart=_events(doc.get("restart"), where, f"{context} restart"),
        exempt=_events(doc.get("exempt"), where, f"{context} exempt"),
        notes=str(doc.get("notes", "")).strip(),
    )
    if not start:
        raise where.error(f"{context}: 'start' needs at least one event (request_opened for the opening)")
    unreachable = [e for e in start if e not in accepts and e not in SYSTEM_EVENTS]
    if unreachable:
        raise where.error(f"{context}: start can never happen: the service does not accept {unreachable}")
    if not stop:
        raise where.error(f"{context}: 'stop' needs at least one event")
    refused = [e for e in stop if e not in accepts]
    if refused:
        raise where.error(f"{context}: stop {refused} is not an event the service accepts")
    own_start = set(spec.pause) & set(start)
    if own_start:
        raise where.error(f"{context}: pauses on its own start event {sorted(own_start)}")
    if set(stop) & set(start):
        raise where.error(f"{context}: stops on its own start event {sorted(set(stop) & set(start))}")
    others = [e for e in (*spec.pause, *spec.resume, *spec.restart, *spec.exempt) if e not in accepts]
    if others:
        raise where.error(f"{context}: uses events the service does not accept: {sorted(set(others))}")
    if (spec.resume or spec.restart) and not spec.pause:
        raise where.error(f"{context}: resume/restart without a pause can never apply")
    if any(not 0 < f < 1 for f in warn_at) or list(warn_at) != sorted(set(warn_at)):
        raise where.error(f"{context}: warn_at must be increasing fractions between 0 and 1, got {warn_at}")
    return spec


def _window(doc: Any, accepts: frozenset[EventType], where: _Where) -> CustomerWindow:
    if not isinstance(doc, dict) or not doc.get("id"):
        raise where.error("every customer window needs an id")
    context = f"customer window {doc['id']!r}"
    try:
        kind = WindowKind(str(doc.get("kind")))
    except ValueError:
        raise where.error(f"{context}: kind must be one of {[k.value for k in WindowKind]}") from None
    event = _event(doc.get("event"), where, context)
    ref = doc.get("reference")
    if not isinstance(ref, dict):
        raise where.error(f"{context}: 'reference' needs an event (and optionally a data field)")
    reference = WindowReference(_event(ref.get("event"), where, context), ref.get("field"))
    for e in (event, reference.event):
        if e not in accepts and e not in SYSTEM_EVENTS:
            raise where.error(f"{context}: the service does not accept {e.value!r}")
    duration = _duration(doc["duration"], where, context) if doc.get("duration") else None
    if kind is not WindowKind.FORBIDDEN_AFTER and duration is None:
        raise where.error(f"{context}: a {kind.value} window needs a duration")
    cutoff = doc.get("cutoff")
    if cutoff is not None and (len(str(cutoff)) != 5 or str(cutoff)[2] != ":"):
        raise where.error(f"{context}: cutoff is a time HH:MM, got {cutoff!r}")
    return CustomerWindow(
        id=str(doc["id"]),
        kind=kind,
        event=event,
        reference=reference,
        description=str(doc.get("description", "")).strip(),
        source=_source(doc.get("source"), where, context),
        duration=duration,
        cutoff=str(cutoff) if cutoff else None,
    )


def parse_service(doc: Any, origin: str) -> ServiceEntry:
    """Parse a self-contained service document (insurer fields included)."""
    if not isinstance(doc, dict) or not doc.get("id"):
        raise CatalogError(f"{origin}: every service needs an id")
    where = _Where(origin, str(doc["id"]))
    name_zh, name_en = _names(doc.get("name"), where, "service")
    accepts = frozenset(_events(doc.get("accepts"), where, "accepts")) | CLOSING_EVENTS
    system = accepts & SYSTEM_EVENTS
    if system:
        raise where.error(f"accepts lists system events {sorted(system)}; they are recorded automatically")
    clocks = tuple(_clock(c, accepts, where) for c in doc.get("clocks") or [])
    ids = [c.id for c in clocks]
    if len(ids) != len(set(ids)):
        raise where.error(f"duplicate clock ids {sorted({i for i in ids if ids.count(i) > 1})}")
    windows = tuple(_window(w, accepts, where) for w in doc.get("customer_windows") or [])
    quota = doc.get("quota_per_policy_year")
    if quota is not None and (not isinstance(quota, int) or quota < 1):
        raise where.error(f"quota_per_policy_year must be a positive number or null, got {quota!r}")
    if not clocks and not doc.get("availability"):
        raise where.error("a service without clocks must state its availability commitment")
    return ServiceEntry(
        id=str(doc["id"]),
        version=int(doc.get("version", 1)),
        insurer=str(doc.get("insurer", "")),
        insurer_name=str(doc.get("insurer_name", "")),
        vendor_hint=doc.get("vendor_hint"),
        name_zh=name_zh,
        name_en=name_en,
        source=_source(doc.get("source"), where, "service"),
        eligibility=str(doc.get("eligibility", "")).strip(),
        quota_per_policy_year=quota,
        quota_note=str(doc.get("quota_note", "")).strip(),
        accepts=accepts,
        clocks=clocks,
        windows=windows,
        availability=str(doc.get("availability", "")).strip(),
        notes=str(doc.get("notes", "")).strip(),
        origin=origin,
    )
