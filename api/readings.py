"""The read side's SQL: every clause that filters or counts clocks by their reading at an instant (the
rules are sla/engine/reading.py's), and the label and period clauses that lists, reports and /metrics
share. A list, a report, a metric or a page that selects by a reading builds its clause here.

A phase is read from what the workflow recorded, corrected at the instant of the query by the few clocks
whose due or last-warning instant has passed and is not recorded yet (a herd's lag). Those are found
through partial indexes (store/models.py) whose predicates are written into these clauses exactly as
the indexes have them: a planner proves a partial index applies only from the SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, TextClause, bindparam, func, select, text

from sla.engine.reading import TICKING, Phase, is_past_due
from store.models import COUNTING_PREDICATE, RUNNING_PREDICATE, ClockRow, table_of
from store.types import AwareDateTime

CLOCKS = table_of(ClockRow)
Clause = ColumnElement[bool] | TextClause


def instant(name: str, value: datetime) -> BindParameter[datetime]:
    """An instant bound as the read model stores instants."""
    return bindparam(name, value, type_=AwareDateTime())


def labelled(
    table: Any, insurer: str | None = None, vendor: str | None = None, service: str | None = None
) -> list[ColumnElement[bool]]:
    """The rows of `table` with these labels (None: any)."""
    wanted = (("insurer_id", insurer), ("vendor_id", vendor), ("service_id", service))
    return [table.c[column] == value for column, value in wanted if value is not None]


def within(column: Any, start: datetime | None, end: datetime | None, names: tuple[str, str]) -> list[Clause]:
    """`column` in [start, end) (None: open on that side); `names` name the two bound instants."""
    clauses: list[Clause] = []
    if start is not None:
        clauses.append(column >= instant(names[0], start))
    if end is not None:
        clauses.append(column < instant(names[1], end))
    return clauses


# -- a clock's reading at an instant ------------------------------------------------------------------
def ticking() -> ColumnElement[bool]:
    """Clocks that owe a deadline a calendar change can move: running, at risk or paused."""
    return CLOCKS.c.phase.in_(sorted(TICKING))


def past_due(at: BindParameter[datetime]) -> list[Clause]:
    """Counting clocks past their due instant: breached at `at`, whatever phase is recorded yet."""
    return [text(COUNTING_PREDICATE), CLOCKS.c.due_at < at]


def newly_at_risk(at: BindParameter[datetime]) -> list[Clause]:
    """Clocks recorded running, past their last warning's instant and not past due: at risk at `at`."""
    c = CLOCKS.c
    return [text(RUNNING_PREDICATE), c.at_risk_from <= at, c.due_at >= at]


# The clocks whose reading the instant changes before the workflow records it: (read as, clauses).
LAG: tuple[tuple[Phase, Callable[[BindParameter[datetime]], list[Clause]]], ...] = (
    (Phase.BREACHED, past_due),
    (Phase.AT_RISK, newly_at_risk),
)


@dataclass(frozen=True)
class Stream:
    """One source of the clocks that read as a phase. Ordered streams walk an index in list order on the
    recorded phase alone (and the scope), with `keep` applied to the rows fetched: a planner given an
    instant too may prefer that instant's index and sort everything it matches. Lag streams are the few
    clocks past an instant the workflow has not recorded yet, found by that instant."""

    conditions: list[Clause]
    ordered: bool
    keep: Callable[[Any], bool] = lambda row: True


def reading_as(phase: Phase, now: datetime) -> list[Stream]:
    """The clocks that read as `phase` at `now` (running includes at risk: a flag on a running clock),
    as sla.engine.reading.phase_at reads each row."""
    c, at = CLOCKS.c, instant("now", now)

    def not_due(row: Any) -> bool:
        return not is_past_due(row.due_at, now)

    if phase is Phase.BREACHED:
        return [Stream([c.phase == Phase.BREACHED], True), Stream(past_due(at), False)]
    if phase is Phase.AT_RISK:
        return [Stream([c.phase == Phase.AT_RISK], True, not_due), Stream(newly_at_risk(at), False)]
    if phase is Phase.RUNNING:
        return [Stream([c.phase == Phase.RUNNING], True, not_due), Stream([c.phase == Phase.AT_RISK], True, not_due)]
    return [Stream([c.phase == phase], True)]


def owed_reading(clock_state: str | None, now: datetime) -> ColumnElement[bool] | None:
    """Among the clocks still owed (store.models.OWED_PREDICATE), those that read as `clock_state` at
    `now`, as the API's list reads them (running includes at risk; past its due instant a clock is
    breached before the workflow records it). None: no filter."""
    if clock_state is None:
        return None
    c, at = CLOCKS.c, instant("now", now)
    counting = c.phase.in_((Phase.RUNNING, Phase.AT_RISK))
    if clock_state == Phase.BREACHED:
        return (c.phase == Phase.BREACHED) | (counting & (c.due_at < at))
    if clock_state == Phase.AT_RISK:
        return ((c.phase == Phase.AT_RISK) | ((c.phase == Phase.RUNNING) & (c.at_risk_from <= at))) & (c.due_at >= at)
    if clock_state == Phase.RUNNING:
        return counting & (c.due_at >= at)
    raise ValueError(f"no owed clock is {clock_state}")


def lag_counts(connection: Connection, now: datetime) -> list[tuple[tuple[Any, ...], Phase]]:
    """Per series and recorded phase, how many clocks the instant reads otherwise, and as what: the
    correction of the open-clock tally at `now`. Rows: (insurer, vendor, service, clock, party, phase,
    count)."""
    c, at = CLOCKS.c, instant("now", now)
    labels = (c.insurer_id, c.vendor_id, c.service_id, c.clock_id, c.party, c.phase)
    counted = []
    for reads_as, clauses in LAG:
        query = select(*labels, func.count()).where(*clauses(at)).group_by(*labels)
        counted += [(tuple(row), reads_as) for row in connection.execute(query)]
    return counted
