"""The trial ledger: a controller's pure bookkeeping of active trials, seen configurations and launches."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from hpo.search._ledger import MAX_DUPLICATES_IN_A_ROW, MAX_LAUNCH_FAILURES_IN_A_ROW, ActiveTrial, TrialLedger
from hpo.study import TrialAttr, TrialLabel


class _Job:
    """A stand-in for a ClearmlJob: the ledger reads only its task id."""

    def __init__(self, task_id: str) -> None:
        self._id = task_id

    def task_id(self) -> str:
        return self._id


def _frozen(
    number: int, x: float, state: TrialState = TrialState.COMPLETE, task_id: str = "", label: str = ""
) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(
        params={"x": x},
        distributions={"x": FloatDistribution(0, 1)},
        values=[x] if state == TrialState.COMPLETE else None,
        state=state,
        user_attrs={k: v for k, v in ((TrialAttr.TASK_ID, task_id), (TrialAttr.STATE, label)) if v},
    )
    trial.number = number
    return trial


def _active(task_id: str, **fields: Any) -> ActiveTrial:
    return ActiveTrial(trial=None, params={}, job=_Job(task_id), queue="q", **fields)  # type: ignore[arg-type]


def test_ledger_remember_keeps_configurations_that_ran_and_skips_repeats_and_unlaunched() -> None:
    ledger = TrialLedger(max_trials=10)
    ledger.remember(
        [
            _frozen(0, 0.1),  # completed (a warm-start trial has no task, but its value counts)
            _frozen(1, 0.2, TrialState.RUNNING, task_id="t1"),  # launched
            _frozen(2, 0.3, TrialState.FAIL),  # never launched: may run again
            _frozen(3, 0.4, TrialState.FAIL, task_id="t3", label=TrialLabel.DUPLICATE),  # a repeat
            _frozen(4, 0.1, TrialState.COMPLETE, task_id="t4"),  # same as trial 0: the first one stays
        ]
    )
    assert ledger.original_of(9, {"x": 0.1}) == 0
    assert ledger.original_of(9, {"x": 0.2}) == 1
    assert ledger.original_of(9, {"x": 0.3}) is None and ledger.original_of(10, {"x": 0.3}) == 9
    assert ledger.original_of(11, {"x": 0.4}) is None


def test_ledger_duplicates_in_a_row_exhaust_the_space_and_a_new_one_resets_the_count() -> None:
    ledger = TrialLedger(max_trials=100)
    assert ledger.original_of(0, {"x": 1}) is None
    for number in range(1, MAX_DUPLICATES_IN_A_ROW):
        assert ledger.original_of(number, {"x": 1}) == 0
    assert not ledger.exhausted
    assert ledger.original_of(99, {"x": 1}) == 0 and ledger.exhausted
    assert ledger.original_of(100, {"x": 2}) is None and not ledger.exhausted


def test_ledger_config_keys_ignore_parameter_order() -> None:
    ledger = TrialLedger(max_trials=10)
    assert ledger.original_of(0, {"a": 1, "b": "x"}) is None
    assert ledger.original_of(1, {"b": "x", "a": 1}) == 0


def test_ledger_attach_counts_first_attempts_only_and_exposes_jobs() -> None:
    ledger = TrialLedger(max_trials=10)
    ledger.attach(0, _active("t0"), {"General/x": "1"}, first=True)
    ledger.attach(1, _active("t1"), {"General/x": "2"})  # a re-attached or retried trial
    assert ledger.launched == 1
    assert [j.task_id() for j in ledger.running_jobs()] == ["t0", "t1"]
    assert ledger.created_ids() == {"t0": {"General/x": "1"}, "t1": {"General/x": "2"}}
    assert set(ledger.created_tasks()) == {"t0", "t1"}
    assert ledger.free_slots(concurrency=3) == 1 and ledger.free_slots(concurrency=1) == 0


def test_ledger_finish_removes_the_active_trial_but_keeps_its_job() -> None:
    ledger = TrialLedger(max_trials=10)
    ledger.attach(0, _active("t0"), {}, first=True)
    assert ledger.finish(0) is not None and ledger.finish(0) is None
    assert ledger.running_jobs() == [] and "t0" in ledger.created_ids()


def test_ledger_budget_full_leaves_no_slot_and_done_waits_for_active_trials() -> None:
    ledger = TrialLedger(max_trials=2)
    ledger.attach(0, _active("t0"), {}, first=True)
    ledger.budget_full = True
    assert ledger.free_slots(concurrency=4) == 0 and not ledger.done
    ledger.finish(0)
    assert ledger.done


def test_ledger_close_budget_caps_at_what_was_launched() -> None:
    ledger = TrialLedger(max_trials=20)
    for number in range(3):
        ledger.attach(number, _active(f"t{number}"), {}, first=True)
    ledger.close_budget()
    assert ledger.max_trials == 3


def test_ledger_launch_failures_in_a_row_end_the_search_and_a_success_resets_them() -> None:
    ledger = TrialLedger(max_trials=10)
    assert not any(ledger.launch_failed() for _ in range(MAX_LAUNCH_FAILURES_IN_A_ROW - 1))
    ledger.launch_succeeded()
    assert not any(ledger.launch_failed() for _ in range(MAX_LAUNCH_FAILURES_IN_A_ROW - 1))
    assert ledger.launch_failed()


def test_active_trial_is_truncated_once_it_reported_a_point() -> None:
    assert not _active("t0").truncated
    assert _active("t0", reported_steps={3}).truncated
