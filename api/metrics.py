"""/metrics: the series README.md lists (Operations: metrics), counted from the read model at scrape
time, so a restart or an activity retry never loses or double-counts; open clocks are judged from due_at
and the last warning at that instant (the reading of sla/engine/reading.py).
Label values are bounded: insurers, vendors, services, clocks - never a request or a person."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, RowMapping, select

from api.readings import lag_counts
from sla.engine.model import Outcome
from sla.engine.reading import Phase
from sla.reports import GRADED
from store.calendar import CalendarSource
from store.models import OpenClockTallyRow, OpenRequestTallyRow, OutcomeTallyRow, table_of
from store.tally import WORKING_DAY_BUCKETS

# `party`: who owes the clock (the catalog's); a vendor's compliance reads only party="vendor".
CLOCK_LABELS = ["insurer", "vendor", "service", "clock", "party"]
SERIES_COLUMNS = ("insurer_id", "vendor_id", "service_id", "clock_id", "party")
OUTCOMES = tuple(Outcome)
OUTCOME_TALLY = table_of(OutcomeTallyRow)
OPEN_TALLY, REQUEST_TALLY = table_of(OpenClockTallyRow), table_of(OpenRequestTallyRow)


Series = tuple[str, ...]


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
        with self.engine.connect() as connection:
            outcomes = connection.execute(select(OUTCOME_TALLY)).mappings().all()
            open_clocks = connection.execute(select(OPEN_TALLY).where(OPEN_TALLY.c.count != 0)).mappings().all()
            requests_open = connection.execute(select(REQUEST_TALLY).where(REQUEST_TALLY.c.count != 0)).mappings().all()
            lag = lag_counts(connection, now)
        outcome_counter, working_days_histogram = _outcome_families(outcomes, open_clocks)
        open_gauge, provisional_gauge = _open_clock_families(open_clocks, lag)
        yield outcome_counter
        yield open_gauge
        yield working_days_histogram
        req = GaugeMetricFamily("sla_requests_open", "Open service requests.", labels=["insurer", "vendor", "service"])
        for r in requests_open:
            req.add_metric([r["insurer_id"], r["vendor_id"], r["service_id"]], r["count"])
        yield req
        yield provisional_gauge
        calendar = self.calendars.current()
        yield GaugeMetricFamily(
            "sla_calendar_last_official_year", "Last year with official working-day data.", value=max(calendar.years)
        )
        info = GaugeMetricFamily("sla_calendar_info", "The calendar in use.", labels=["fingerprint"])
        info.add_metric([calendar.fingerprint], 1)
        yield info


def _series(row: RowMapping) -> Series:
    return tuple(row[name] for name in SERIES_COLUMNS)


def _outcome_families(
    outcomes: Sequence[RowMapping], open_clocks: Sequence[RowMapping]
) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
    """sla_clock_outcomes and sla_clock_working_days_used, from the outcome tally."""
    known = {_series(r) for r in [*outcomes, *open_clocks]}
    counter = CounterMetricFamily(
        "sla_clock_outcomes", "Closed SLA clocks by outcome (one per clock).", labels=[*CLOCK_LABELS, "outcome"]
    )
    # Every clock that exists is published at 0 for each outcome before its first outcome: a series
    # that first appears at 1 loses that increment to increase() and rate().
    counts: Counter[Series] = Counter({(*series, outcome): 0 for series in known for outcome in OUTCOMES})
    used: dict[Series, Counter[int]] = defaultdict(Counter)
    used_sum: Counter[Series] = Counter()
    for r in outcomes:
        counts[(*_series(r), r["outcome"])] += r["count"]
        if r["outcome"] in GRADED:
            histogram_series = (r["vendor_id"], r["service_id"], r["clock_id"], r["party"])
            used[histogram_series][r["working_days_bucket"]] += r["count"]
            used_sum[histogram_series] += r["working_days_e4"]
    for key, count in sorted(counts.items()):
        counter.add_metric(list(key), count)
    histogram = HistogramMetricFamily(
        "sla_clock_working_days_used",
        "Working days a clock used when it closed (met or breached).",
        labels=["vendor", "service", "clock", "party"],
    )
    for series, bins in sorted(used.items()):
        # The tally counts each clock in its own bucket; Prometheus buckets are cumulative.
        buckets = [(str(b), sum(n for i, n in bins.items() if i <= k)) for k, b in enumerate(WORKING_DAY_BUCKETS)]
        buckets.append(("+Inf", sum(bins.values())))
        histogram.add_metric(list(series), buckets, used_sum[series] / 10_000)
    return counter, histogram


def _open_clock_families(
    open_clocks: Sequence[RowMapping], lag: list[tuple[tuple[Any, ...], Phase]]
) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    """sla_clocks_open: the open-clock tally by recorded phase, each lagging clock moved to the phase
    it reads as at the instant of the scrape; and the provisional clocks among them."""
    states: Counter[Series] = Counter()
    provisional = 0
    for r in open_clocks:
        states[(*_series(r), r["phase"])] += r["count"]
        provisional += r["count"] if r["provisional"] else 0
    for (*series, phase, n), reads_as in lag:
        states[(*series, phase)] -= n
        states[(*series, reads_as.value)] += n
    gauge = GaugeMetricFamily(
        "sla_clocks_open",
        "Open clocks now; breached and at_risk judged from due_at and the last warning at this instant.",
        labels=[*CLOCK_LABELS, "state"],
    )
    for key, count in sorted(states.items()):
        if count:
            gauge.add_metric(list(key), count)
    return gauge, GaugeMetricFamily(
        "sla_calendar_provisional_clocks",
        "Open clocks whose deadline rests on a year without official data.",
        value=provisional,
    )


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
