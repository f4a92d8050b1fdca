"""The ``--stop-when converged`` rule: its options, where the noise comes from, and the decision."""

from __future__ import annotations

import builtins
import math
from typing import Any

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, create_trial

from hpo.errors import ConfigError
from hpo.search import _converge
from hpo.search._converge import ConvergeRule, evaluate, fold_scores, noise_of, parse_rule
from hpo.study import Objective

ONE = (Objective("cv", "accuracy", "max"),)


def _trial(number: int, x: float, value: float, **attrs: Any) -> FrozenTrial:
    system = attrs.pop("system", {})
    trial = create_trial(
        params={"x": x},
        distributions={"x": FloatDistribution(0.0, 1.0)},
        value=value,
        user_attrs={"state": "completed", **attrs},
        system_attrs=system,
    )
    trial.number = number
    return trial


def _flat(n: int, se: float | None = None) -> list[FrozenTrial]:
    """Trials of an objective that barely moves over x (a plateau): nothing left to gain."""
    extra = {} if se is None else {"objective_se": se}
    return [_trial(i, i / (n - 1), 0.80 + 0.001 * math.sin(7 * i), **extra) for i in range(n)]


def test_parse_rule_defaults_and_bad_values() -> None:
    assert parse_rule(None, ONE, None, None) is None
    rule = parse_rule("converged", ONE, None, None)
    assert rule == ConvergeRule(min_trials=_converge.DEFAULT_MIN_TRIALS, static_noise=_converge.DEFAULT_NOISE)
    with pytest.raises(ConfigError, match=r"--stop-when 'soon' is unknown; use --stop-when converged"):
        parse_rule("soon", ONE, None, None)
    with pytest.raises(ConfigError, match="need --stop-when converged"):
        parse_rule(None, ONE, 5, None)
    with pytest.raises(ConfigError, match="at least 2, got 1"):
        parse_rule("converged", ONE, 1, None)
    with pytest.raises(ConfigError, match=">= 0, got -0.1"):
        parse_rule("converged", ONE, None, -0.1)
    two = (*ONE, Objective("cv", "cost", "min"))
    with pytest.raises(ConfigError, match="single objective, the space has 2"):
        parse_rule("converged", two, None, None)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ConfigError, match=r"pip install 'clearml-hpo\[converge\]'"):
        parse_rule("converged", ONE, None, None)


def test_nothing_is_decided_before_min_trials() -> None:
    calls: list[int] = []

    def bound(trials: list[FrozenTrial], direction: StudyDirection) -> float:
        calls.append(len(trials))
        return 0.0

    verdict = evaluate(_flat(4, se=1.0), StudyDirection.MAXIMIZE, ConvergeRule(min_trials=5), bound)
    assert verdict == _converge.Verdict(trials=4) and not verdict.converged and calls == []
    verdict = evaluate(_flat(5, se=1.0), StudyDirection.MAXIMIZE, ConvergeRule(min_trials=5), bound)
    assert verdict.converged and calls == [5]


def test_duplicates_failures_and_running_trials_are_not_counted() -> None:
    trials = _flat(4, se=0.5)
    trials.append(_trial(4, 0.5, 0.8, state="duplicate"))
    warm = _trial(5, 0.2, 0.7, state="warm-start", warm_start_task_id="abc")
    trials.append(warm)
    seen: list[list[int]] = []

    def bound(used: list[FrozenTrial], direction: StudyDirection) -> float:
        seen.append([t.number for t in used])
        return 0.1

    verdict = evaluate(trials, StudyDirection.MAXIMIZE, ConvergeRule(min_trials=5), bound)
    assert seen == [[0, 1, 2, 3, 5]] and verdict.trials == 5  # warm-start trials count, duplicates do not


def test_noise_comes_from_the_best_trials_standard_error_then_its_folds_then_the_static_value() -> None:
    rule = ConvergeRule(static_noise=0.02)
    best = _trial(3, 0.3, 0.9, objective_se=0.004)
    assert noise_of(best, rule, StudyDirection.MAXIMIZE) == (0.004, "the standard error trial 3 reported")
    folds = [0.8, 0.9, 0.85, 0.95, 0.75]
    best = _trial(4, 0.3, 0.85, system={_converge.CV_SCORES_KEY: folds})
    noise, source = noise_of(best, rule, StudyDirection.MAXIMIZE)
    k = len(folds)
    mean = sum(folds) / k
    expected = math.sqrt((1 / k + 1 / (k - 1)) * sum((f - mean) ** 2 for f in folds) / k)  # Optuna's CV error
    assert noise == pytest.approx(expected) and source == "the 5 fold scores of trial 4"
    assert noise_of(_trial(5, 0.3, 0.9), rule, StudyDirection.MAXIMIZE)[0] == 0.02


def test_the_best_trial_sets_the_noise_in_both_directions() -> None:
    trials = [_trial(0, 0.1, 0.5, objective_se=0.1), _trial(1, 0.9, 0.7, objective_se=0.2)]
    rule = ConvergeRule(min_trials=2)
    high = evaluate(trials, StudyDirection.MAXIMIZE, rule, lambda t, d: 0.15)
    low = evaluate(trials, StudyDirection.MINIMIZE, rule, lambda t, d: 0.15)
    assert (high.noise, high.converged) == (0.2, True)
    assert (low.noise, low.converged) == (0.1, False)
    assert high.reason == "converged: regret bound 0.15 <= noise 0.2 after 2 trials"


def test_optunas_regret_bound_converges_on_a_plateau_with_large_noise_not_with_tiny_noise() -> None:
    rule = ConvergeRule(min_trials=10, seed=0)
    plateau = evaluate(_flat(12, se=0.05), StudyDirection.MAXIMIZE, rule)
    assert plateau.regret is not None and plateau.converged, plateau
    # A steep objective sampled coarsely, with a tiny noise: a GP bound this small is impossible.
    steep = [_trial(i, i / 11, 10 * (i / 11), objective_se=1e-6) for i in range(12)]
    verdict = evaluate(steep, StudyDirection.MAXIMIZE, rule)
    assert verdict.regret is not None and verdict.regret > 1e-6 and not verdict.converged, verdict


def test_fold_scores_reads_the_cv_folds_artifact_shape() -> None:
    scores = [{"accuracy": 0.8}, {"accuracy": 0.9}, {"accuracy": 1}]
    artifact = {"k": 3, "signatures": ["a", "b", "c"], "scores": scores}
    assert fold_scores(artifact, "accuracy") == [0.8, 0.9, 1.0]
    assert fold_scores({"scores": [0.5, 0.6]}, "accuracy") == [0.5, 0.6]
    assert fold_scores(artifact, "f1") is None
    assert fold_scores({"scores": [{"accuracy": 0.8}]}, "accuracy") is None  # one fold has no spread
    assert fold_scores(["not", "a", "mapping"], "accuracy") is None


def test_a_study_converges_through_optuna_storage() -> None:
    study = optuna.create_study(direction="maximize")
    for trial in _flat(10, se=0.05):
        study.add_trial(trial)
    verdict = evaluate(study.get_trials(deepcopy=False), study.direction, ConvergeRule(min_trials=10))
    assert verdict.converged and verdict.trials == 10
