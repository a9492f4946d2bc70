"""Turn one catalog document (a plain mapping) into a validated `ServiceEntry`.

Pure: no files, no YAML. Workflows pin the mapping at opening and parse it again on replay.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from fractions import Fraction
from typing import Any

from sla.catalog.model import (
    DEFAULT_WARNINGS,
    ClockNotice,
    ClockSpec,
    CustomerWindow,
    Duration,
    DurationUnit,
    Party,
    ServiceEntry,
    Source,
    WarnThreshold,
    WindowKind,
    WindowReference,
)
from sla.errors import CatalogError
from sla.events import CLOSING_EVENTS, SYSTEM_EVENTS, EventType
from sla.units import CLOCK_UNITS, WINDOW_UNITS, measure_class


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


def _duration(value: Any, where: _Where, context: str, units: Collection[DurationUnit] = CLOCK_UNITS) -> Duration:
    if not isinstance(value, dict) or len(value) != 1:
        names = ", ".join(sorted(u.value for u in units))
        raise where.error(f"{context}: duration is one of {names}: N")
    ((unit, amount),) = value.items()
    try:
        parsed_unit = DurationUnit(unit)
    except ValueError:
        raise where.error(f"{context}: unknown duration unit {unit!r}") from None
    if parsed_unit not in units:
        raise where.error(f"{context}: a {parsed_unit.value} duration is not allowed here")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise where.error(f"{context}: duration must be a positive whole number, got {amount!r}")
    refusal = measure_class(parsed_unit).amount_refusal(amount)
    if refusal:
        raise where.error(f"{context}: {refusal}")
    return Duration(parsed_unit, amount)


def _fraction(value: Any, where: _Where, context: str) -> Fraction:
    """An exact share: "2/3", "0.5", 0.5 (a YAML number is read as the decimal written, never as a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise where.error(f"{context}: warn_at entries are fractions such as '2/3' or 0.5, got {value!r}")
    try:
        return Fraction(str(value).strip())
    except (ValueError, ZeroDivisionError):
        raise where.error(f"{context}: {value!r} is not a fraction") from None


def _warnings(doc: dict[str, Any], duration: Duration, where: _Where, context: str) -> tuple[WarnThreshold, ...]:
    """`warn_at` (exact shares of the budget) and `warn_after` (amounts of the clock's own unit)."""
    if "warn_at" not in doc and "warn_after" not in doc:
        return DEFAULT_WARNINGS
    warnings: list[WarnThreshold] = []
    shares = doc.get("warn_at") or []
    if not isinstance(shares, list):
        shares = [shares]
    given = [_fraction(v, where, context) for v in shares]
    warnings += [WarnThreshold(f) for f in given]
    afters = doc.get("warn_after") or []
    if not isinstance(afters, list):
        afters = [afters]
    for value in afters:
        after = _duration(value, where, f"{context} warn_after", (duration.unit,))
        refusal = measure_class(after.unit).warn_after_refusal
        if refusal:
            raise where.error(f"{context}: {refusal}")
        warnings.append(WarnThreshold(Fraction(after.amount, duration.amount), after))
    ordered = sorted(warnings, key=lambda w: w.share)
    shown = [f"{w.share}" for w in warnings]
    if any(not 0 < w.share < 1 for w in warnings):
        raise where.error(f"{context}: warnings must fall strictly inside the budget, got {shown}")
    if len({w.share for w in warnings}) != len(warnings) or given != sorted(given):
        raise where.error(f"{context}: warn_at must be increasing fractions between 0 and 1, got {shown}")
    return tuple(ordered)


def _names(value: Any, where: _Where, context: str) -> tuple[str, str]:
    if not isinstance(value, dict) or not value.get("zh") or not value.get("en"):
        raise where.error(f"{context}: 'name' needs zh and en")
    return str(value["zh"]), str(value["en"])


def _quote(doc: dict[str, Any], where: _Where, context: str) -> str:
    quote = doc.get("quote", "")
    if not isinstance(quote, str):
        raise where.error(f"{context}: quote is the manual's cited lines as text, got {quote!r}")
    return quote.strip()


def _flag(doc: dict[str, Any], key: str, where: _Where, context: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise where.error(f"{context}: {key} is true or false, got {value!r}")
    return value


def _start_step(value: Any, where: _Where, context: str) -> tuple[str, str]:
    if value is None:
        return ("", "")
    zh, en = _names(value, where, f"{context} start_step")
    return (zh.strip(), en.strip())


def _notice(value: Any, where: _Where, context: str) -> ClockNotice | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value.get("event") or not value.get("lead"):
        raise where.error(f"{context}: notice needs an event and a lead (e.g. lead: {{calendar_days: 1}})")
    return ClockNotice(
        _event(value["event"], where, f"{context} notice"),
        _duration(value["lead"], where, f"{context} notice", WINDOW_UNITS),
    )


def _clock(doc: Any, accepts: frozenset[EventType], where: _Where) -> ClockSpec:
    if not isinstance(doc, dict) or not doc.get("id"):
        raise where.error("every clock needs an id")
    context = f"clock {doc['id']!r}"
    spec = _clock_spec(doc, where, context)
    _check_start_and_stop(spec, accepts, where, context)
    _check_other_events(spec, accepts, where, context)
    _check_per_occurrence_and_exceptions(spec, where, context)
    return spec


def _party(doc: dict[str, Any], where: _Where, context: str) -> Party:
    try:
        return Party(doc.get("party", Party.VENDOR.value))
    except ValueError:
        raise where.error(f"{context}: unknown party {doc.get('party')!r}") from None


def _clock_spec(doc: dict[str, Any], where: _Where, context: str) -> ClockSpec:
    """Each field of a clock read on its own; how the fields fit together is checked after."""
    name_zh, name_en = _names(doc.get("name"), where, context)
    party = _party(doc, where, context)
    start = _events(doc.get("start"), where, f"{context} start")
    stop = _events(doc.get("stop"), where, f"{context} stop")
    duration = _duration(doc.get("duration"), where, context)
    warnings = _warnings(doc, duration, where, context)
    per_occurrence = doc.get("per_occurrence", False)
    if not isinstance(per_occurrence, bool):
        raise where.error(f"{context}: per_occurrence is true or false, got {per_occurrence!r}")
    return ClockSpec(
        id=str(doc["id"]),
        name_zh=name_zh,
        name_en=name_en,
        party=party,
        duration=duration,
        start_all_of=start,
        stop=stop,
        source=_source(doc.get("source"), where, context),
        warn_at=tuple(float(w.share) for w in warnings),
        pause=_events(doc.get("pause"), where, f"{context} pause"),
        resume=_events(doc.get("resume"), where, f"{context} resume"),
        restart=_events(doc.get("restart"), where, f"{context} restart"),
        exempt=_events(doc.get("exempt"), where, f"{context} exempt"),
        notes=str(doc.get("notes", "")).strip(),
        warnings=warnings,
        per_occurrence=per_occurrence,
        quote=_quote(doc, where, context),
        in_order=_flag(doc, "in_order", where, context),
        void=_events(doc.get("void"), where, f"{context} void"),
        notice=_notice(doc.get("notice"), where, context),
        start_step=_start_step(doc.get("start_step"), where, context),
    )


def _check_start_and_stop(spec: ClockSpec, accepts: frozenset[EventType], where: _Where, context: str) -> None:
    """A clock starts and stops on events that can happen, and neither pauses nor stops on its start."""
    start, stop = spec.start_all_of, spec.stop
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


def _check_other_events(spec: ClockSpec, accepts: frozenset[EventType], where: _Where, context: str) -> None:
    """Every other event the clock names is one the service accepts, and a resume has a pause to end."""
    notice_event = (spec.notice.event,) if spec.notice else ()
    others = [
        e
        for e in (*spec.pause, *spec.resume, *spec.restart, *spec.exempt, *spec.void, *notice_event)
        if e not in accepts
    ]
    if others:
        raise where.error(f"{context}: uses events the service does not accept: {sorted(set(others))}")
    if (spec.resume or spec.restart) and not spec.pause:
        raise where.error(f"{context}: resume/restart without a pause can never apply")


def _check_per_occurrence_and_exceptions(spec: ClockSpec, where: _Where, context: str) -> None:
    """A per-occurrence clock starts on one coordinator's event and never pauses; exempt and void
    events are not its own start or stop; a notice is judged against a single start event."""
    start = spec.start_all_of
    if spec.per_occurrence and (len(start) != 1 or start[0] in SYSTEM_EVENTS):
        raise where.error(f"{context}: a per_occurrence clock starts on exactly one event a coordinator sends")
    if spec.per_occurrence and (spec.pause or spec.resume or spec.restart):
        raise where.error(f"{context}: a per_occurrence clock has no pause, resume or restart")
    if set(spec.exempt) & set(start):
        raise where.error(f"{context}: exempts on its own start event {sorted(set(spec.exempt) & set(start))}")
    if set(spec.void) & (set(start) | set(spec.stop)):
        raise where.error(f"{context}: void events are neither its start nor its stop")
    if spec.notice and len(start) != 1:
        raise where.error(f"{context}: a notice is judged against one start event; this clock has {len(start)}")


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
    if not isinstance(ref, dict) or not (ref.get("event") or ref.get("any_of")):
        raise where.error(f"{context}: 'reference' needs an event, or any_of: [events] (and optionally a data field)")
    if ref.get("event") and ref.get("any_of"):
        raise where.error(f"{context}: 'reference' has either an event or any_of, not both")
    if ref.get("any_of"):
        marks = _events(ref.get("any_of"), where, f"{context} reference")
        if kind is not WindowKind.FORBIDDEN_AFTER:
            raise where.error(f"{context}: any_of references are for forbidden_after windows")
        reference = WindowReference(marks[0], ref.get("field"), marks[1:])
    else:
        reference = WindowReference(_event(ref.get("event"), where, context), ref.get("field"))
    for e in (event, *reference.events):
        if e not in accepts and e not in SYSTEM_EVENTS:
            raise where.error(f"{context}: the service does not accept {e.value!r}")
    duration = _duration(doc["duration"], where, context, WINDOW_UNITS) if doc.get("duration") else None
    if kind is not WindowKind.FORBIDDEN_AFTER and duration is None:
        raise where.error(f"{context}: a {kind.value} window needs a duration")
    cutoff = doc.get("cutoff")
    if cutoff is not None and (len(str(cutoff)) != 5 or str(cutoff)[2] != ":"):
        raise where.error(f"{context}: cutoff is a time HH:MM, got {cutoff!r}")
    advisory = doc.get("advisory", False)
    if not isinstance(advisory, bool):
        raise where.error(f"{context}: advisory is true or false, got {advisory!r}")
    event_field = doc.get("event_field")
    return CustomerWindow(
        id=str(doc["id"]),
        kind=kind,
        event=event,
        reference=reference,
        description=str(doc.get("description", "")).strip(),
        source=_source(doc.get("source"), where, context),
        duration=duration,
        cutoff=str(cutoff) if cutoff else None,
        event_field=str(event_field) if event_field else None,
        advisory=advisory,
        quote=_quote(doc, where, context),
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
    window_ids = [w.id for w in windows]
    if len(window_ids) != len(set(window_ids)):
        raise where.error(f"duplicate customer window ids {sorted({i for i in window_ids if window_ids.count(i) > 1})}")
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


_PINNED: dict[tuple[str, str], ServiceEntry] = {}


def owing_parties(doc: dict[str, Any] | None) -> dict[str, str]:
    """Clock id -> the party that owes it, read from a pinned entry without parsing it whole (the
    projection asks on every write); the same default as a parsed clock's `party`."""
    return {str(c["id"]): str(c.get("party", Party.VENDOR.value)) for c in (doc or {}).get("clocks") or []}


def parse_pinned(doc: dict[str, Any], origin: str) -> ServiceEntry:
    """A request's pinned entry, parsed once per process: it never changes, and few versions exist."""
    key = (json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str), origin)
    entry = _PINNED.get(key)
    if entry is None:
        entry = _PINNED[key] = parse_service(doc, origin)
    return entry
