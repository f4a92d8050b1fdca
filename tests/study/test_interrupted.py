"""Trials a search stopped itself (Ctrl-C, SIGTERM, hpo stop, a time limit) are not spent: the budget,
the counts and the sampler leave them out, and the next claims run their configurations again."""

from __future__ import annotations

import os
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo import study as hs

OWNER = "here:1:abc"


@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.BaseStorage:
    return hs.open_storage(f"sqlite:///{tmp_path / 'studies.db'}")


def _study(storage: optuna.storages.BaseStorage, budget: int, name: str = "s") -> optuna.Study:
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    for key, value in {
        hs.StudyAttr.OBJECTIVES: [["validation", "accuracy", "max"]],
        hs.StudyAttr.STATE: hs.SearchState.STOPPED,
        hs.StudyAttr.STARTED: time.time() - 10,
        hs.StudyAttr.ENDED: time.time(),
        hs.StudyAttr.BUDGET: budget,
        hs.StudyAttr.CONTROLLER: {"pid": os.getpid(), "host": os.uname().nodename},
    }.items():
        study.set_user_attr(key, value)
    return study


def _launch(storage: optuna.storages.BaseStorage, study: optuna.Study, budget: int, task_id: str) -> optuna.Trial:
    """Claim a trial as a controller does, draw its x, and give it a task."""
    trial, _ = hs.claim_trial(study, storage, OWNER, budget)
    assert trial is not None, "the budget is full"
    trial.suggest_float("x", 0.0, 1.0)
    trial.set_user_attr(hs.TrialAttr.TASK_ID, task_id)
    trial.set_user_attr(hs.TrialAttr.STATE, hs.TrialLabel.RUNNING)
    return trial


def _complete(storage: optuna.storages.BaseStorage, study: optuna.Study, trial: optuna.Trial, value: float) -> None:
    attrs = {hs.TrialAttr.STATE: hs.TrialLabel.COMPLETED}
    hs.finish_trial(storage, study, trial.number, TrialState.COMPLETE, attrs, [value])


def test_an_interrupted_trial_is_failed_unspent_and_its_configuration_claimed_again(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = _study(storage, budget=2)
    done = _launch(storage, study, 2, "t0")
    _complete(storage, study, done, 0.5)
    cut = _launch(storage, study, 2, "t1")
    cut.report(0.4, step=0)  # it reported a point: the old rule told Optuna PRUNED
    assert hs.claim_trial(study, storage, OWNER, 2)[0] is None  # both count while they run

    assert hs.interrupt_trial(storage, study, cut.number, "Ctrl-C")

    frozen = study.get_trials(deepcopy=False)[cut.number]
    assert frozen.state == TrialState.FAIL  # not PRUNED: samplers skip it, as a failure
    assert frozen.user_attrs[hs.TrialAttr.STATE] == "stopped"
    assert frozen.user_attrs[hs.TrialAttr.INTERRUPTED] == frozen.user_attrs[hs.TrialAttr.ERROR] == "Ctrl-C"
    assert hs.interrupted(frozen) and not hs.counts_against_budget(frozen, study.user_attrs)
    assert len(study.get_trials()) == 2  # nothing is added to a stopped study

    # The budget has room again, and the next claim (a resume) runs the same configuration.
    again = _launch(storage, study, 2, "t2")
    assert again.params == cut.params and again.user_attrs[hs.TrialAttr.RETRY_OF] == cut.number
    assert hs.claim_trial(study, storage, OWNER, 2)[0] is None  # two spent: full


def test_a_configuration_is_claimed_again_once_and_after_those_already_waiting(
    storage: optuna.storages.BaseStorage,
) -> None:
    study = _study(storage, budget=5)
    study.enqueue_trial({"x": 0.25})
    first = _launch(storage, study, 5, "t0")
    hs.interrupt_trial(storage, study, first.number, "time limit")
    study.enqueue_trial({"x": 0.75})  # a configuration that waited before the retry (an initial: entry)
    queued = _launch(storage, study, 5, "t1")
    assert queued.params == {"x": 0.75} and hs.TrialAttr.RETRY_OF not in queued.user_attrs
    # Its controller died between claiming the retry and launching it: the retry took nothing up.
    lost, _ = hs.claim_trial(study, storage, OWNER, 5)
    assert lost is not None and lost.user_attrs[hs.TrialAttr.RETRY_OF] == first.number
    lost.suggest_float("x", 0.0, 1.0)
    hs.finish_trial(storage, study, lost.number, TrialState.FAIL, {hs.TrialAttr.ERROR: "never launched"})
    retry = _launch(storage, study, 5, "t2")
    assert retry.params == {"x": 0.25} and retry.user_attrs[hs.TrialAttr.RETRY_OF] == first.number
    fresh = _launch(storage, study, 5, "t3")  # taken up once: from now on the sampler draws
    assert hs.TrialAttr.RETRY_OF not in fresh.user_attrs


def test_interrupting_a_finished_trial_changes_nothing(storage: optuna.storages.BaseStorage) -> None:
    study = _study(storage, budget=3)
    done = _launch(storage, study, 3, "t0")
    _complete(storage, study, done, 0.5)
    assert not hs.interrupt_trial(storage, study, done.number, "time limit")
    [frozen] = study.get_trials(deepcopy=False)
    assert frozen.state == TrialState.COMPLETE and frozen.user_attrs[hs.TrialAttr.STATE] == "completed"
    assert not hs.interrupted(frozen) and hs.counts_against_budget(frozen)


def test_the_summary_counts_interrupted_trials_apart_and_not_as_done(storage: optuna.storages.BaseStorage) -> None:
    study = _study(storage, budget=3)
    done = _launch(storage, study, 3, "t0")
    _complete(storage, study, done, 0.5)
    cut = [_launch(storage, study, 3, f"t{i}") for i in (1, 2)]
    for trial in cut:
        hs.interrupt_trial(storage, study, trial.number, "SIGTERM")
    # A trial someone else stopped (in the web UI, or its agent died) is spent, as before.
    other = optuna.trial.create_trial(
        state=TrialState.FAIL,
        user_attrs={hs.TrialAttr.TASK_ID: "t9", hs.TrialAttr.STATE: hs.TrialLabel.STOPPED},
    )
    study.add_trial(other)

    summary = hs.summarize(hs.load("s", storage))
    assert summary.counts["interrupted"] == summary.interrupted == 2
    assert summary.counts["stopped"] == 1 and summary.counts["completed"] == 1
    assert summary.done == 2 and summary.as_dict()["done"] == 2
    assert sum(hs.counts_against_budget(t, study.user_attrs) for t in study.get_trials()) == 2


def test_tpe_learns_nothing_from_an_interrupted_trial(storage: optuna.storages.BaseStorage) -> None:
    # TPE learns from COMPLETE and PRUNED trials (a pruned one joins the poor ones and changes the
    # split); a FAIL one is left out. So its next draws are those it makes where the trial never ran.
    space = optuna.distributions.FloatDistribution(0.0, 1.0)

    def draws(study: optuna.Study) -> list[float]:
        sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=0)
        trial = optuna.trial.create_trial(state=TrialState.RUNNING)
        return [float(sampler.sample_independent(study, trial, "x", space)) for _ in range(5)]

    seen = {}
    for name in ("never", "interrupted", "pruned"):
        study = _study(storage, budget=20, name=name)
        for i in range(10):
            x = 0.05 + 0.1 * i
            study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions={"x": space}, value=x))
        if name != "never":
            study.enqueue_trial({"x": 0.9})  # cut short in the best region
            cut = _launch(storage, study, 20, "t10")
            cut.report(0.01, step=0)
            if name == "interrupted":
                hs.interrupt_trial(storage, study, cut.number, "time limit")
            else:
                study.tell(cut.number, state=TrialState.PRUNED)
        seen[name] = draws(study)
    assert seen["interrupted"] == seen["never"] != seen["pruned"]
