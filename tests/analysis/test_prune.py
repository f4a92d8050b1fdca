"""Why a trial was pruned: the thresholds Optuna's pruners used, recomputed from the study (pure, real Optuna)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from hpo.analysis import explain
from hpo.analysis._prune import PruneReason, hyperband_bracket, rung_cutoff


def _study(pruner: optuna.pruners.BasePruner, direction: str) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=direction, pruner=pruner, storage=optuna.storages.InMemoryStorage())


def _complete(study: optuna.Study, curve: list[float]) -> None:
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(value, step)
        trial.should_prune()  # asked after each report, as a search does (rungs are recorded then); ignored
    study.tell(trial, curve[-1])


def _run_until_pruned(study: optuna.Study, curve: list[float]) -> tuple[optuna.Trial, int]:
    trial = study.ask()
    for step, value in enumerate(curve):
        trial.report(value, step)
        if trial.should_prune():
            return trial, step
    raise AssertionError("never pruned")


def _frozen(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    return study.get_trials(deepcopy=False)[number]


@pytest.mark.parametrize(
    ("direction", "curves", "poor"),
    [
        ("maximize", [[0.5, 0.6, 0.7], [0.4, 0.5, 0.9], [0.1, 0.8, 0.95]], [0.2, 0.3, 0.4]),
        ("minimize", [[0.5, 0.4, 0.3], [0.6, 0.2, 0.1], [0.9, 0.5, 0.05]], [0.8, 0.9, 0.95]),
    ],
)
def test_median_threshold_is_optunas_median_at_that_step(
    direction: str, curves: list[list[float]], poor: list[float]
) -> None:
    study = _study(optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1), direction)
    for curve in curves:
        _complete(study, curve)
    trial, step = _run_until_pruned(study, poor)
    maximize = direction == "maximize"
    reason = explain("median", {}, study.get_trials(deepcopy=False), _frozen(study, trial.number), step, maximize)
    assert step == 1
    assert reason.pruner == "MedianPruner" and reason.step == 1 and reason.value == poor[1]
    assert reason.threshold == pytest.approx(float(np.median([c[1] for c in curves])))
    # Optuna compares the trial's best value so far, which missed the median
    assert reason.compared == (max if maximize else min)(poor[:2])
    assert (reason.compared < reason.threshold) if maximize else (reason.compared > reason.threshold)
    assert "median of 3 completed trials at step 1" in reason.text
    assert reason.as_attr()["reason"] == reason.text


def test_percentile_threshold_flips_the_percentile_when_maximising() -> None:
    study = _study(optuna.pruners.PercentilePruner(25.0, n_startup_trials=4, n_warmup_steps=0), "maximize")
    for top in (0.2, 0.4, 0.6, 0.8):
        _complete(study, [top, top])
    trial, step = _run_until_pruned(study, [0.3, 0.3])
    reason = explain(
        "PercentilePruner", {"percentile": 25.0}, study.get_trials(), _frozen(study, trial.number), step, True
    )
    # the top 25% survive: the threshold is the 75th percentile of the completed trials at step 0
    assert reason.threshold == pytest.approx(float(np.percentile([0.2, 0.4, 0.6, 0.8], 75)))
    assert "25th percentile of 4 completed trials" in reason.rule


def test_successive_halving_names_the_rung_and_its_cutoff() -> None:
    study = _study(optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2), "maximize")
    _complete(study, [0.5, 0.6, 0.7, 0.8])
    _complete(study, [0.6, 0.7, 0.8, 0.9])
    trial, step = _run_until_pruned(study, [0.1, 0.2, 0.3, 0.4])
    frozen = _frozen(study, trial.number)
    reason = explain("asha", {"min_resource": 1, "reduction_factor": 2}, study.get_trials(), frozen, step, True)
    assert reason.pruner == "SuccessiveHalvingPruner"
    rung_key = next(k for k in frozen.system_attrs if k.startswith("completed_rung_"))
    competing = [float(t.system_attrs[rung_key]) for t in study.get_trials() if rung_key in t.system_attrs]
    assert reason.threshold == rung_cutoff(competing, 2, True) == sorted(competing)[-1]  # top 1 of 3 promoted
    assert f"rung {rung_key.removeprefix('completed_rung_')} cut-off (top 1 of 3 promoted)" in reason.text
    assert reason.compared is not None and reason.compared < reason.threshold


@pytest.mark.parametrize(
    ("values", "factor", "maximize", "cutoff"),
    [([1.0, 2.0, 3.0, 4.0], 2, True, 3.0), ([1.0, 2.0, 3.0, 4.0], 2, False, 2.0), ([5.0], 4, True, 5.0)],
)
def test_rung_cutoff_keeps_the_top_share(values: list[float], factor: int, maximize: bool, cutoff: float) -> None:
    assert rung_cutoff(values, factor, maximize) == cutoff


def test_unknown_pruner_and_nan_values_say_what_is_missing() -> None:
    study = _study(optuna.pruners.NopPruner(), "maximize")
    trial = study.ask()
    trial.report(math.nan, 0)
    frozen = _frozen(study, 0)
    assert "all NaN" in explain("median", {}, [frozen], frozen, 0, True).text
    other = explain("WilcoxonPruner", {}, [frozen], frozen, 0, True)
    assert other.threshold is None and "not computed" in other.text
    assert PruneReason("MedianPruner", 2, 0.5, 0.5, None, "x").as_attr()["threshold"] is None


def test_hyperband_cutoff_is_taken_within_the_trials_bracket() -> None:
    options = {"min_resource": 1, "max_resource": 9, "reduction_factor": 3}
    pruner = optuna.pruners.HyperbandPruner(**options)
    study = _study(pruner, "maximize")
    reasons = []
    for n in range(30):
        trial = study.ask()
        for step in range(9):
            trial.report(0.1 * (n % 7) + 0.01 * step, step)
            if trial.should_prune():  # explained when pruned, as the search does
                trials = study.get_trials(deepcopy=False)
                reasons.append(explain("hyperband", options, trials, trials[n], step, True, study.study_name))
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, 0.1 * (n % 7) + 0.08)
    assert reasons
    for reason in reasons:
        assert reason.pruner == "HyperbandPruner" and "rung" in reason.rule
        assert reason.compared is not None and reason.threshold is not None and reason.compared < reason.threshold
    trials = study.get_trials()
    # our bracket draw is Optuna's own (its private one, read here only to check ours)
    for trial in trials:
        ours = hyperband_bracket(options, study.study_name, trial.number)
        assert ours == pruner._get_bracket_id(study, trial)
    auto = explain("hyperband", {"min_resource": 1}, trials, trials[0], 3, True, study.study_name)
    assert auto.threshold is None
