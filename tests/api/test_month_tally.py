"""A month's compliance from the month tally equals the scan of the month's clocks it replaced, on SQLite
and PostgreSQL, over a varied read model: the bench's year of requests (met, breached, exempt, cancelled,
open, past due and not recorded yet, three vendors, clocks the vendor and the insurer owe), October 2025
written by the real projection, and requests written change by change through the projection writer (a
due instant a recompute moved into another month, an abandoned attempt rewritten by the committed one).
Asia/Shanghai months: 00:00-08:00 +08:00 on the 1st is still the month before in UTC."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, and_, bindparam, select, text

from activities.projection import Change, ProjectionWriter
from api.compliance import CLOCKS, OUTCOMES, Scope, month_reports
from harness.keys import TEST_KEYS
from harness.projected import SPECIAL_DRUG, Projector, october_2025, opening
from harness.readmodel import seed
from harness.readmodel_checks import assert_tallies_exact, month_percentiles_drift
from runtime.codec import EncryptionCodec
from sla.engine.model import ClockState, ClockView, Outcome
from sla.reports import (
    GRADED,
    CalendarMonth,
    ComplianceLine,
    OutcomeCount,
    Series,
    WorkingDaysUsed,
    compliance,
    month_line,
)
from store.db import init_schema, make_engine, write_transaction
from store.models import COUNTING_PREDICATE
from store.tally import ClockFacts, apply_difference, contribution, tenths_of
from store.types import AwareDateTime
from tests.helpers import CST
from workflows.messages import RequestView, WritePosition

SEEDED_AT = datetime(2026, 11, 20, 10, tzinfo=CST)  # the bench's "now": its lagging clocks are past due then
MONTHS = [CalendarMonth(2025, 8).shifted(n) for n in range(18)]  # 2025-08 .. 2027-01
SCOPES = {
    "all": Scope(),
    "the vendor's own": Scope(party="vendor"),
    "one vendor's own": Scope(vendor="vendor-late", party="vendor"),
    "one insurer's": Scope(insurer="zhongan"),
    "the insurer's": Scope(party="insurer"),
}
NOWS = [
    SEEDED_AT,
    datetime(2026, 12, 1, 3, tzinfo=CST),  # 30 Nov 19:00 UTC: November is over in Asia/Shanghai
    datetime(2026, 11, 1, 5, tzinfo=CST),  # 31 Oct 21:00 UTC: November has begun
    datetime(2025, 11, 1, 0, tzinfo=CST),  # 24:00 of 31 October 2025, the instant a month-end clock is due
]


def scanned(connection: Connection, scope: Scope, month: CalendarMonth, now: datetime) -> list[ComplianceLine]:
    """The month's lines as api/compliance.py read them before the month tally: every outcome and
    counting clock due in the month, through the indexes on due instants (the reference here only)."""
    start = bindparam("months_start", month.start, type_=AwareDateTime())
    end = bindparam("months_end", month.end, type_=AwareDateTime())
    o, c = OUTCOMES.c, CLOCKS.c
    joined = OUTCOMES.outerjoin(
        CLOCKS, and_(c.request_id == o.request_id, c.clock_id == o.clock_id, c.instance == o.instance)
    )
    closed = connection.execute(
        select(o.vendor_id, o.service_id, o.clock_id, o.party, o.outcome, o.working_days_used, o.due_at, c.stopped_at)
        .select_from(joined)
        .where(o.due_at > start, o.due_at <= end, *scope.where(OUTCOMES))
    ).all()
    counting = connection.execute(
        select(c.vendor_id, c.service_id, c.clock_id, c.party, c.due_at).where(
            text(COUNTING_PREDICATE), c.due_at > start, c.due_at <= end, *scope.where(CLOCKS)
        )
    ).all()
    due: Counter[Series] = Counter()
    open_past_due: Counter[Series] = Counter()
    for clock in counting:
        key = (clock.vendor_id, clock.service_id, clock.clock_id, clock.party)
        due[key] += 1
        if clock.due_at < min(month.end, now):
            open_past_due[key] += 1
    for outcome in closed:
        key = (outcome.vendor_id, outcome.service_id, outcome.clock_id, outcome.party)
        undelivered = outcome.stopped_at is None or outcome.stopped_at > month.end
        if outcome.outcome == Outcome.BREACHED and undelivered and outcome.due_at < month.end:
            open_past_due[key] += 1
    counts = [OutcomeCount(r.vendor_id, r.service_id, r.clock_id, r.party, r.outcome) for r in closed]
    used = [
        WorkingDaysUsed(r.vendor_id, r.service_id, r.clock_id, r.party, tenths_of(r.working_days_used) / 10)
        for r in closed
        if r.outcome in GRADED
    ]
    closed_lines = {(x.vendor_id, x.service_id, x.clock_id, x.party): x for x in compliance(counts, used)}
    lines = []
    for key in sorted(set(closed_lines) | set(due)):
        x = closed_lines.get(key)
        closed = (x.met, x.breached, x.exempt, x.cancelled) if x else (0, 0, 0, 0)
        days = (x.working_days_p50, x.working_days_p90) if x else (None, None)
        lines.append(month_line(key, closed, due[key], open_past_due[key], days))
    return lines


def _clock(
    clock_id: str, due: datetime, outcome: Outcome | None = None, stopped: datetime | None = None, days: float = 2.37
) -> ClockView:
    """A clock as the engine views it: running toward `due`, or closed with `outcome`."""
    state = ClockState(outcome.value) if outcome else ClockState.RUNNING
    return ClockView(
        clock_id=clock_id,
        state=state,
        outcome=outcome,
        started_at=due - timedelta(days=3),
        due_at=due,
        stopped_at=stopped,
        breached_at=due if outcome is Outcome.BREACHED else None,
        late_by_seconds=None,
        budget_seconds=3 * 86400,
        elapsed_seconds=86400,
        remaining_seconds=2 * 86400,
        working_days_used=days,
        thresholds=(),
        provisional=False,
        cycle=1,
        timeline=(),
        next_wake_at=None,
    )


class Writes:
    """One request written change by change through the projection writer, as the activity would."""

    def __init__(self, engine: Engine, request_id: str, vendor_id: str, opened_at: datetime) -> None:
        self.writer = ProjectionWriter(engine, EncryptionCodec(TEST_KEYS))
        self.opening = opening(SPECIAL_DRUG, opened_at, request_id, vendor_id)
        self.committed: tuple[RequestView, WritePosition] | None = None

    def write(self, clocks: list[ClockView], history_length: int, *, attempt: int = 1, commit: bool = True) -> None:
        before, committed = self.committed or (self.opening.view, None)
        after = replace(before, clocks=clocks, revision=before.revision + 1)
        position = WritePosition(history_length, after.revision, attempt)
        change = Change(
            before,
            after,
            position,
            committed,
            self.opening.catalog_version,
            catalog_document=self.opening.catalog_document,
        )
        assert self.writer.write(change)
        if commit:
            self.committed = (after, position)


def _written_change_by_change(engine: Engine) -> None:
    moved = Writes(engine, "r-moved", "vendor-a", datetime(2026, 10, 26, 9, tzinfo=CST))
    audit = _clock("audit", datetime(2026, 10, 28, tzinfo=CST), Outcome.MET, datetime(2026, 10, 27, 15, tzinfo=CST))
    moved.write([audit, _clock("fulfil", datetime(2026, 11, 1, tzinfo=CST))], 3)  # 24:00 on 31 October
    moved.write([audit, _clock("fulfil", datetime(2026, 11, 4, tzinfo=CST))], 9)  # a recompute: November now
    late = _clock("fulfil", datetime(2026, 11, 4, tzinfo=CST), Outcome.BREACHED)
    moved.write([audit, late], 15, commit=False)  # an attempt the workflow abandoned
    met = _clock("fulfil", datetime(2026, 11, 4, tzinfo=CST), Outcome.MET, datetime(2026, 11, 3, 11, tzinfo=CST))
    moved.write([audit, met], 15, attempt=2)  # the committed attempt: rewrites the request whole
    # Due at 02:00 +08:00 on 1 December, 18:00 UTC on 30 November: December's, past due at 03:00 +08:00.
    early = Writes(engine, "r-early-december", "vendor-b", datetime(2026, 11, 26, 9, tzinfo=CST))
    early.write([_clock("fulfil", datetime(2026, 12, 1, 2, tzinfo=CST))], 3)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def varied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory = tmp_path_factory.mktemp("month-tally")
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'month.db'}"
    else:
        url = str(request.getfixturevalue("postgres").new_database("month_tally"))
    engine = make_engine(url)
    init_schema(engine)
    seed(engine, 300, SEEDED_AT)
    (directory / "calendars").mkdir()
    october_2025(Projector(engine, directory / "calendars"))
    _written_change_by_change(engine)
    assert_tallies_exact(engine)  # the month tally included: what the clock rows add up to
    yield engine
    engine.dispose()


def test_a_months_report_from_the_month_tally_equals_the_scan_of_its_clocks_in_every_scope_and_at_any_instant(
    varied: Engine,
) -> None:
    checked: defaultdict[str, int] = defaultdict(int)
    with varied.connect() as connection:
        for now in NOWS:
            for name, scope in SCOPES.items():
                reports = month_reports(connection, scope, MONTHS, now)
                for report in reports:
                    assert report.lines == scanned(connection, scope, report.month, now), (name, report.month, now)
                    checked["lines"] += len(report.lines)
                    checked["open past due"] += sum(line.open_past_due or 0 for line in report.lines)
                    checked["exempt"] += sum(line.exempt for line in report.lines)
    assert checked["lines"] > 500 and checked["open past due"] > 50 and checked["exempt"] > 10, checked


def test_a_due_instant_a_recompute_moved_counts_in_its_new_month_and_the_committed_attempt_replaces_the_abandoned(
    varied: Engine,
) -> None:
    vendor_a = Scope(vendor="vendor-a", party="vendor")
    with varied.connect() as connection:
        october, november = month_reports(
            connection, vendor_a, [CalendarMonth(2026, 10), CalendarMonth(2026, 11)], SEEDED_AT
        )
    assert all(line.vendor_id == "vendor-a" for line in october.lines + november.lines)
    fulfil = {line.clock_id: line for line in november.lines if line.service_id == SPECIAL_DRUG}
    assert (fulfil["fulfil"].due, fulfil["fulfil"].met, fulfil["fulfil"].breached) == (1, 1, 0)
    assert not [line for line in october.lines if line.service_id == SPECIAL_DRUG and line.clock_id == "fulfil"]


def test_a_clock_due_at_02_00_on_the_1st_in_asia_shanghai_counts_in_that_month_and_is_past_due_at_03_00(
    varied: Engine,
) -> None:
    vendor_b = Scope(vendor="vendor-b", party="vendor")
    at_three = datetime(2026, 12, 1, 3, tzinfo=CST)
    with varied.connect() as connection:
        november, december = month_reports(
            connection, vendor_b, [CalendarMonth(2026, 11), CalendarMonth(2026, 12)], at_three
        )
        [before_its_instant] = month_reports(
            connection, vendor_b, [CalendarMonth(2026, 12)], at_three - timedelta(hours=2)
        )
    [early] = [line for line in december.lines if line.service_id == SPECIAL_DRUG]
    assert (early.due, early.open_past_due) == (1, 1)
    assert not [line for line in november.lines if line.service_id == SPECIAL_DRUG]
    assert [(line.due, line.open_past_due) for line in before_its_instant.lines if line.service_id == SPECIAL_DRUG] == [
        (1, 0)
    ]


def _blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(connection.exec_driver_sql(waiting).scalar())


def _apply_in_own_transaction(engine: Engine, added: Counter[Any]) -> None:
    with write_transaction(engine) as connection:
        apply_difference(connection, Counter(), added)


def test_a_writer_of_a_series_another_writer_holds_waits_and_counts_both_in_the_month_percentiles(
    request: pytest.FixtureRequest,
) -> None:
    # On PostgreSQL two writers of one series' bins (a met clock, a breached one: no other row in common)
    # run at once. The second waits for the series' percentile row, so it reads the bins once the first
    # has committed: p50/p90 of both clocks, not of its own alone.
    engine = make_engine(str(request.getfixturevalue("postgres").new_database("month_percentiles")))
    init_schema(engine)
    due = datetime(2026, 10, 20, tzinfo=CST)
    labels = ("axa_tianping", "vendor-a", SPECIAL_DRUG)

    def graded(outcome: Outcome, days: float) -> Counter[Any]:
        clock = ClockFacts("fulfil", "vendor", outcome.value, outcome.value, outcome, days, False, due, due)
        return contribution("completed", *labels, [clock])

    pool = ThreadPoolExecutor(max_workers=1)
    with write_transaction(engine) as first:
        apply_difference(first, Counter(), graded(Outcome.MET, 1.0))
        second = pool.submit(_apply_in_own_transaction, engine, graded(Outcome.BREACHED, 2.0))
        deadline = time.monotonic() + 30
        while not _blocked_on_a_lock(engine) and not second.done() and time.monotonic() < deadline:
            threading.Event().wait(0.01)  # until the second writer waits for a row the first holds
    second.result(timeout=30)
    pool.shutdown()
    with engine.connect() as connection:
        drift = month_percentiles_drift(connection)
        [report] = month_reports(connection, Scope(vendor="vendor-a"), [CalendarMonth(2026, 10)], due)
    engine.dispose()
    assert drift == {}
    [line] = report.lines
    assert (line.met, line.breached, line.working_days_p50, line.working_days_p90) == (1, 1, 1.5, 1.9)
