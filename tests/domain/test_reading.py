"""A clock's reading, the one definition (sla/engine/reading.py): what the projection stores, what the
instant decides, which clocks are open and which tick. The read side's SQL (api/readings.py) is held to
the same rules on a seeded read model by tests/api/test_list_filters.py and test_metrics_reading.py."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

from sla.engine.model import ClockState, ClockView, ThresholdView, owes_stop
from sla.engine.reading import (
    COUNTING,
    TICKING,
    Phase,
    at_risk_from,
    counts_as_open,
    effective_state,
    is_at_risk,
    is_past_due,
    phase_at,
    phases_of,
    recorded_phase,
)
from sla.events import RequestStatus
from store.models import COUNTING_PREDICATE, RUNNING_PREDICATE
from tests.helpers import at

DUE = at(2025, 10, 17)
WARNED = at(2025, 10, 15)


def _clock(state: ClockState, *, last_warning_fired: bool, stopped_at: datetime | None = None) -> ClockView:
    thresholds = (
        ThresholdView(0.5, at(2025, 10, 10), True),
        ThresholdView(0.8, WARNED, last_warning_fired),
    )
    return ClockView(
        clock_id="arrange",
        state=state,
        outcome=None,
        started_at=at(2025, 9, 26, 14),
        due_at=DUE,
        stopped_at=stopped_at,
        breached_at=None,
        late_by_seconds=None,
        budget_seconds=0,
        elapsed_seconds=0,
        remaining_seconds=0,
        working_days_used=0.0,
        thresholds=thresholds,
        provisional=False,
        cycle=1,
        timeline=(),
        next_wake_at=None,
    )


def test_a_running_clock_is_stored_at_risk_once_its_last_warning_has_fired() -> None:
    assert recorded_phase(_clock(ClockState.RUNNING, last_warning_fired=True)) is Phase.AT_RISK
    assert recorded_phase(_clock(ClockState.RUNNING, last_warning_fired=False)) is Phase.RUNNING
    assert recorded_phase(_clock(ClockState.PAUSED, last_warning_fired=True)) is Phase.PAUSED


def test_only_a_running_clock_has_an_instant_from_which_it_is_at_risk() -> None:
    assert at_risk_from(_clock(ClockState.RUNNING, last_warning_fired=False)) == WARNED
    assert at_risk_from(_clock(ClockState.PAUSED, last_warning_fired=True)) is None
    assert at_risk_from(_clock(ClockState.BREACHED, last_warning_fired=True)) is None


def test_a_clock_is_past_due_only_after_its_due_instant_not_at_it() -> None:
    assert not is_past_due(DUE, DUE)
    assert is_past_due(DUE, DUE + timedelta(microseconds=1))
    assert not is_past_due(None, DUE)


def test_the_instant_reads_a_counting_clock_breached_past_due_and_at_risk_past_its_last_warning() -> None:
    before, warned, overdue = WARNED - timedelta(hours=1), WARNED, DUE + timedelta(seconds=1)
    assert phase_at("running", DUE, WARNED, before) is Phase.RUNNING
    assert phase_at("running", DUE, WARNED, warned) is Phase.AT_RISK
    assert phase_at("running", DUE, WARNED, overdue) is Phase.BREACHED
    assert phase_at("at_risk", DUE, WARNED, overdue) is Phase.BREACHED
    assert phase_at("paused", None, None, overdue) is Phase.PAUSED
    assert phase_at("met", DUE, None, overdue) is Phase.MET


def test_the_views_state_and_flag_say_what_the_lists_phase_says_for_every_instant() -> None:
    instants = [WARNED - timedelta(hours=1), WARNED, DUE, DUE + timedelta(seconds=1)]
    for state, now, warned in itertools.product(ClockState, instants, [None, WARNED]):
        for phase in phases_of(state):
            reading = phase_at(phase, DUE, warned if phase is not Phase.AT_RISK else WARNED, now)
            breached = effective_state(state, DUE, now) == ClockState.BREACHED
            assert breached == (reading is Phase.BREACHED), (state, phase, now)
            if phase is not Phase.AT_RISK:  # an at_risk phase is the workflow's record of the flag
                assert is_at_risk(state, warned, DUE, now) == (reading is Phase.AT_RISK), (state, now, warned)


def test_a_clock_is_open_while_its_request_is_open_and_it_owes_its_stop() -> None:
    stopped = DUE + timedelta(days=1)
    assert counts_as_open(RequestStatus.OPEN, "running", None)
    assert counts_as_open(RequestStatus.OPEN, "paused", None)
    assert counts_as_open(RequestStatus.OPEN, "breached", None)
    assert not counts_as_open(RequestStatus.OPEN, "breached", stopped)
    assert not counts_as_open(RequestStatus.OPEN, "pending", None)
    assert not counts_as_open(RequestStatus.COMPLETED, "running", None)
    for state in ClockState:
        view = _clock(state, last_warning_fired=False)
        assert view.is_open == (state is ClockState.PENDING or owes_stop(state, None))


def test_counting_clocks_run_and_ticking_ones_also_pause() -> None:
    assert {Phase.RUNNING, Phase.AT_RISK} == COUNTING
    assert {Phase.RUNNING, Phase.AT_RISK, Phase.PAUSED} == TICKING


def test_the_partial_indexes_select_exactly_the_counting_and_the_running_phases() -> None:
    def named(predicate: str) -> set[str]:
        return set(re.findall(r"'([a-z_]+)'", predicate))

    assert named(COUNTING_PREDICATE) == set(COUNTING)
    assert named(RUNNING_PREDICATE) == {Phase.RUNNING}
