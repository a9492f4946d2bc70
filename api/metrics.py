"""/metrics: the DESIGN.md contract, counted from the read model at scrape time, so a restart or
an activity retry never loses or double-counts; open clocks are judged from due_at at that instant.
Label values are bounded: insurers, vendors, services, clocks - never a request or a person."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from activities.calendar_source import CalendarSource
from sla.engine.reading import effective_state, is_at_risk
from store.models import ClockOutcomeRow, ClockRow, RequestRow

WORKING_DAY_BUCKETS = (0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 60)
CLOCK_LABELS = ["insurer", "vendor", "service", "clock"]
OUTCOMES = ("met", "breached", "exempt", "cancelled")


class ReadModelCollector(Collector):
    def __init__(self, engine: Engine, calendars: CalendarSource, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.calendars = calendars
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        with Session(self.engine) as session:
            outcome_labels = [
                col(ClockOutcomeRow.insurer_id),
                col(ClockOutcomeRow.vendor_id),
                col(ClockOutcomeRow.service_id),
                col(ClockOutcomeRow.clock_id),
                col(ClockOutcomeRow.outcome),
            ]
            outcomes = session.execute(sa_select(*outcome_labels, func.count()).group_by(*outcome_labels)).all()
            used = session.exec(
                select(
                    ClockOutcomeRow.vendor_id,
                    ClockOutcomeRow.service_id,
                    ClockOutcomeRow.clock_id,
                    ClockOutcomeRow.working_days_used,
                ).where(ClockOutcomeRow.outcome.in_(("met", "breached")))  # type: ignore[attr-defined]
            ).all()
            known = session.execute(
                sa_select(
                    col(ClockRow.insurer_id), col(ClockRow.vendor_id), col(ClockRow.service_id), col(ClockRow.clock_id)
                ).distinct()
            ).all()
            open_clocks = session.exec(
                select(ClockRow)
                .join(RequestRow, RequestRow.id == ClockRow.request_id)  # type: ignore[arg-type]
                .where(RequestRow.status == "open")
                .where(ClockRow.state.in_(("running", "paused", "breached")))  # type: ignore[attr-defined]
            ).all()
            request_labels = [col(RequestRow.insurer_id), col(RequestRow.vendor_id), col(RequestRow.service_id)]
            requests_open = session.execute(
                sa_select(*request_labels, func.count())
                .where(col(RequestRow.status) == "open")
                .group_by(*request_labels)
            ).all()

        counter = CounterMetricFamily(
            "sla_clock_outcomes", "Closed SLA clocks by outcome (one per clock).", labels=[*CLOCK_LABELS, "outcome"]
        )
        # Every clock that exists is published at 0 for each outcome before its first outcome: a series
        # that first appears at 1 loses that increment to increase() and rate().
        counts = {(*labels, outcome): 0 for labels in known for outcome in OUTCOMES}
        for insurer, vendor, service, clock, outcome, count in outcomes:
            counts[(insurer, vendor, service, clock, outcome)] = count
        for labels, count in sorted(counts.items()):
            counter.add_metric(list(labels), count)
        yield counter

        gauge = GaugeMetricFamily(
            "sla_clocks_open",
            "Open clocks now; breached and at_risk judged from due_at.",
            labels=[*CLOCK_LABELS, "state"],
        )
        states: Counter[tuple[str, ...]] = Counter()
        provisional = 0
        for c in open_clocks:
            state = effective_state(c.state, c.due_at, now)
            if state == "breached" and c.stopped_at is not None:
                continue
            if is_at_risk(c.state, c.at_risk_from, c.due_at, now):
                state = "at_risk"
            states[(c.insurer_id, c.vendor_id, c.service_id, c.clock_id, state)] += 1
            provisional += c.provisional
        for labels, count in states.items():
            gauge.add_metric(list(labels), count)
        yield gauge

        histogram = HistogramMetricFamily(
            "sla_clock_working_days_used",
            "Working days a clock used when it closed (met or breached).",
            labels=["vendor", "service", "clock"],
        )
        grouped: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for vendor, service, clock, days in used:
            grouped[(vendor, service, clock)].append(days)
        for labels, values in grouped.items():
            buckets = [(str(b), sum(v <= b for v in values)) for b in WORKING_DAY_BUCKETS]
            buckets.append(("+Inf", len(values)))
            histogram.add_metric(list(labels), buckets, sum(values))
        yield histogram

        req = GaugeMetricFamily("sla_requests_open", "Open service requests.", labels=["insurer", "vendor", "service"])
        for insurer, vendor, service, count in requests_open:
            req.add_metric([insurer, vendor, service], count)
        yield req

        yield GaugeMetricFamily(
            "sla_calendar_provisional_clocks",
            "Open clocks whose deadline rests on a year without official data.",
            value=provisional,
        )
        calendar = self.calendars.current()
        years = GaugeMetricFamily(
            "sla_calendar_last_official_year", "Last year with official working-day data.", value=max(calendar.years)
        )
        yield years
        info = GaugeMetricFamily("sla_calendar_info", "The calendar in use.", labels=["fingerprint"])
        info.add_metric([calendar.fingerprint], 1)
        yield info


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "sla_http_request_duration_seconds",
            "HTTP requests by route template.",
            ["method", "route", "status"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, started: float) -> None:
        self.duration.labels(method, route, str(status)).observe(time.perf_counter() - started)


def build_registry(
    engine: Engine, calendars: CalendarSource, clock: Callable[[], datetime]
) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry()
    registry.register(ReadModelCollector(engine, calendars, clock))
    return registry, HttpMetrics(registry)
