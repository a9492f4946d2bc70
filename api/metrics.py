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
from sqlalchemy import Engine, bindparam, func, select, text

from sla.engine.model import Outcome
from sla.engine.reading import Phase
from sla.reports import GRADED
from store.calendar import CalendarSource
from store.models import COUNTING, RUNNING, ClockRow, OpenClockTallyRow, OpenRequestTallyRow, OutcomeTallyRow, table_of
from store.tally import WORKING_DAY_BUCKETS
from store.types import AwareDateTime

# `party`: who owes the clock (the catalog's); a vendor's compliance reads only party="vendor".
CLOCK_LABELS = ["insurer", "vendor", "service", "clock", "party"]
OUTCOMES = tuple(Outcome)
CLOCKS, OUTCOME_TALLY = table_of(ClockRow), table_of(OutcomeTallyRow)
OPEN_TALLY, REQUEST_TALLY = table_of(OpenClockTallyRow), table_of(OpenRequestTallyRow)


class ReadModelCollector(Collector):
    """Reads O(series) rows: the tallies the projection keeps in its own transaction, corrected for the
    clocks whose warning or due instant has passed and is not recorded yet (found by index on those
    instants, so a deadline herd shows as breached at 00:00:00, not when the workflows catch up)."""

    def __init__(self, engine: Engine, calendars: CalendarSource, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.calendars = calendars
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        at = bindparam("now", now, type_=AwareDateTime())
        c = CLOCKS.c
        labels = (c.insurer_id, c.vendor_id, c.service_id, c.clock_id, c.party)
        with self.engine.connect() as connection:
            outcomes = connection.execute(select(OUTCOME_TALLY)).mappings().all()
            open_clocks = connection.execute(select(OPEN_TALLY).where(OPEN_TALLY.c.count != 0)).mappings().all()
            requests_open = connection.execute(select(REQUEST_TALLY).where(REQUEST_TALLY.c.count != 0)).mappings().all()
            overdue = connection.execute(
                select(*labels, c.phase, c.provisional, func.count())
                .where(text(COUNTING), c.due_at < at)
                .group_by(*labels, c.phase, c.provisional)
            ).all()
            newly_at_risk = connection.execute(
                select(*labels, c.provisional, func.count())
                .where(text(RUNNING), c.at_risk_from <= at, c.due_at >= at)
                .group_by(*labels, c.provisional)
            ).all()

        series_of = ("insurer_id", "vendor_id", "service_id", "clock_id", "party")
        known = {tuple(r[name] for name in series_of) for r in [*outcomes, *open_clocks]}
        counter = CounterMetricFamily(
            "sla_clock_outcomes", "Closed SLA clocks by outcome (one per clock).", labels=[*CLOCK_LABELS, "outcome"]
        )
        # Every clock that exists is published at 0 for each outcome before its first outcome: a series
        # that first appears at 1 loses that increment to increase() and rate().
        counts: Counter[tuple[str, ...]] = Counter({(*series, outcome): 0 for series in known for outcome in OUTCOMES})
        used: dict[tuple[str, str, str, str], Counter[int]] = defaultdict(Counter)
        used_sum: Counter[tuple[str, str, str, str]] = Counter()
        for r in outcomes:
            counts[(*(r[name] for name in series_of), r["outcome"])] += r["count"]
            if r["outcome"] in GRADED:
                histogram_series = (r["vendor_id"], r["service_id"], r["clock_id"], r["party"])
                used[histogram_series][r["working_days_bucket"]] += r["count"]
                used_sum[histogram_series] += r["working_days_e4"]
        for key, count in sorted(counts.items()):
            counter.add_metric(list(key), count)
        yield counter

        states: Counter[tuple[str, ...]] = Counter()
        provisional = 0
        for r in open_clocks:
            states[(*(r[name] for name in series_of), r["phase"])] += r["count"]
            provisional += r["count"] if r["provisional"] else 0
        for *series, phase, _, n in overdue:  # past due_at, breach not recorded yet
            states[(*series, phase)] -= n
            states[(*series, Phase.BREACHED.value)] += n
        for *series, _, n in newly_at_risk:  # past the last warning, not recorded yet
            states[(*series, Phase.RUNNING.value)] -= n
            states[(*series, Phase.AT_RISK.value)] += n
        gauge = GaugeMetricFamily(
            "sla_clocks_open",
            "Open clocks now; breached and at_risk judged from due_at and the last warning at this instant.",
            labels=[*CLOCK_LABELS, "state"],
        )
        for key, count in sorted(states.items()):
            if count:
                gauge.add_metric(list(key), count)
        yield gauge

        histogram = HistogramMetricFamily(
            "sla_clock_working_days_used",
            "Working days a clock used when it closed (met or breached).",
            labels=["vendor", "service", "clock", "party"],
        )
        for used_series, bins in sorted(used.items()):
            # The tally counts each clock in its own bucket; Prometheus buckets are cumulative.
            buckets = [(str(b), sum(n for i, n in bins.items() if i <= k)) for k, b in enumerate(WORKING_DAY_BUCKETS)]
            buckets.append(("+Inf", sum(bins.values())))
            histogram.add_metric(list(used_series), buckets, used_sum[used_series] / 10_000)
        yield histogram

        req = GaugeMetricFamily("sla_requests_open", "Open service requests.", labels=["insurer", "vendor", "service"])
        for r in requests_open:
            req.add_metric([r["insurer_id"], r["vendor_id"], r["service_id"]], r["count"])
        yield req

        yield GaugeMetricFamily(
            "sla_calendar_provisional_clocks",
            "Open clocks whose deadline rests on a year without official data.",
            value=provisional,
        )
        calendar = self.calendars.current()
        yield GaugeMetricFamily(
            "sla_calendar_last_official_year", "Last year with official working-day data.", value=max(calendar.years)
        )
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
