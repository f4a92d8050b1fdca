"""The promotion gate's statistics (pure: no ClearML): known inputs, known intervals, the seed, and a
seeded simulation of K-fold CV with no true improvement that holds the default rule to its level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.errors import ConfigError
from hpo.promotion._evidence import (
    Gate,
    bootstrap_interval,
    compare,
    describe,
    differences,
    kfold_ratio,
    pick,
    t_interval,
)


def test_differences_are_improvements_for_either_direction() -> None:
    assert differences([0.8, 0.9], [0.7, 0.95], "max") == pytest.approx([0.1, -0.05])
    assert differences([0.2, 0.3], [0.25, 0.25], "min") == pytest.approx([0.05, -0.05])
    with pytest.raises(ValueError, match="same folds"):
        differences([0.8, 0.9], [0.7], "max")
    with pytest.raises(ValueError, match="at least two"):
        differences([0.8], [0.7], "max")


def test_t_interval_matches_the_textbook_value() -> None:
    # mean 0.03, sd 0.0158114, se 0.00707107, t(0.975, 4) = 2.7764451
    low, high = t_interval([0.01, 0.02, 0.03, 0.04, 0.05], 0.95)
    assert (low, high) == (pytest.approx(0.03 - 0.0196324, abs=1e-6), pytest.approx(0.03 + 0.0196324, abs=1e-6))


def test_corrected_t_widens_the_t_interval_by_nadeau_and_bengio() -> None:
    # sd 0.0158114, sqrt(1/5 + 1/4) = 0.6708204, t(0.975, 4) = 2.7764451: half width 0.0294486
    low, high = t_interval([0.01, 0.02, 0.03, 0.04, 0.05], 0.95, kfold_ratio(5))
    assert (low, high) == (pytest.approx(0.03 - 0.0294486, abs=1e-6), pytest.approx(0.03 + 0.0294486, abs=1e-6))
    assert kfold_ratio(5) == 0.25 and kfold_ratio(10) == pytest.approx(1 / 9)
    comparison = compare([0.01, 0.02, 0.03, 0.04, 0.05], Gate())
    assert comparison.rule == "corrected-t" and (comparison.low, comparison.high) == (low, high)


def test_auto_is_corrected_t_on_shared_training_rows_and_t_where_none_are_shared() -> None:
    diffs = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert Gate().rule == "auto"
    shared, independent = compare(diffs, Gate()), compare(diffs, Gate(), shared_training=False)
    assert (shared.rule, independent.rule) == ("corrected-t", "t-test")
    assert (independent.low, independent.high) == t_interval(diffs, 0.95)
    # A rule named explicitly is applied as named, whatever the folds.
    assert compare(diffs, Gate(rule="bootstrap"), shared_training=False).rule == "bootstrap"
    assert compare(diffs, Gate(rule="t-test")).rule == "t-test"
    with pytest.raises(ValueError, match="compares no intervals"):
        compare(diffs, Gate(rule="none"))


def test_bootstrap_interval_on_two_folds_is_exact() -> None:
    # Resampled means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    assert bootstrap_interval([0.0, 1.0], 0.95, 10_000, seed=0) == (0.0, 1.0)
    assert bootstrap_interval([0.0, 1.0], 0.4, 10_000, seed=0) == (0.5, 0.5)
    assert bootstrap_interval([0.02] * 5, 0.95, 1000, seed=3) == pytest.approx((0.02, 0.02))


def test_bootstrap_is_reproducible_by_its_seed() -> None:
    diffs = [0.0311, -0.0123, 0.0047, 0.0272, -0.0035, 0.0191, 0.0088, -0.0071, 0.0154, 0.0013]
    first = bootstrap_interval(diffs, 0.95, 2000, seed=7)
    assert bootstrap_interval(diffs, 0.95, 2000, seed=7) == first
    assert bootstrap_interval(diffs, 0.95, 2000, seed=8) != first
    low, high = first
    assert min(diffs) <= low < sum(diffs) / len(diffs) < high <= max(diffs)


@pytest.mark.parametrize("rule", ["auto", "corrected-t", "bootstrap", "t-test"])
def test_a_clear_improvement_passes_and_a_noisy_one_does_not(rule: str) -> None:
    gate = Gate(rule=rule)
    clear = compare([0.05, 0.06, 0.04, 0.07, 0.05], gate)
    assert clear.passed and clear.low > 0 and clear.improvement == pytest.approx(0.054)
    noisy = compare([0.03, -0.02, 0.01, -0.01, 0.02], gate)
    assert not noisy.passed and noisy.low < 0 < noisy.improvement
    # A threshold above what the interval can promise keeps the champion.
    assert not compare([0.05, 0.06, 0.04, 0.07, 0.05], Gate(rule=rule, min_improvement=0.05)).passed
    # A tie is no improvement.
    assert not compare([0.0] * 5, gate).passed


def test_several_candidates_widen_each_interval_bonferroni() -> None:
    gate = Gate(rule="t-test", confidence=0.9)
    one, three = compare([0.01, 0.03, 0.02, 0.04], gate), compare([0.01, 0.03, 0.02, 0.04], gate, candidates=3)
    assert one.confidence == pytest.approx(0.9) and three.confidence == pytest.approx(1 - 0.1 / 3)
    assert three.low < one.low and three.high > one.high


def test_pick_takes_the_surest_passing_candidate() -> None:
    gate = Gate(rule="t-test")
    lucky = compare([0.20, -0.05, 0.15, 0.01, 0.10], gate)  # higher mean, not sure
    steady = compare([0.04, 0.05, 0.04, 0.05, 0.04], gate)
    small = compare([0.01, 0.02, 0.01, 0.02, 0.01], gate)
    assert lucky.improvement > steady.improvement and not lucky.passed
    assert pick([lucky, small, steady]) == 2
    assert pick([lucky]) is None and pick([]) is None
    assert describe(steady, 5).startswith("+0.0440 [+0.0") and "(t-test, 95.0%, 5 folds)" in describe(steady, 5)
    assert "(corrected-t, 95.0%, 5 folds)" in describe(compare([0.04, 0.05, 0.04, 0.05, 0.04], Gate()), 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"rule": "vote"},
            "--gate: 'vote' is not a gate rule; fix: use one of auto, corrected-t, t-test, bootstrap, none",
        ),
        ({"confidence": 1.0}, "--confidence: 1.0 is not in [0.5, 1)"),
        ({"min_improvement": -0.1}, "--min-improvement: -0.1 is negative"),
        ({"min_improvement": math.nan}, "--min-improvement: nan"),
        ({"top_k": 0}, "--top-k: 0 is below 1"),
    ],
)
def test_bad_gate_options_name_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Gate(**kwargs)
    assert message in str(err.value) and "fix" in str(err.value)


def _null_kfold_cv(seed: int, cases: int, rows: int, features: int, k: int) -> np.ndarray:
    """Per-fold differences of two models with no true difference, from real K-fold CV: ``(cases, k)``.

    Each case is a data set of ``rows`` rows whose target is pure noise, and two least-squares
    models (with intercept) on disjoint blocks of ``features`` noise features each: exchangeable,
    so neither is better in expectation. Both are fitted on the same k - 1 training folds and scored
    (negative mean squared error) on the held-out fold, as a CV template does; the folds' training
    sets overlap, so their differences are correlated, as in any K-fold CV.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cases, rows, 2 * features))
    y = rng.standard_normal((cases, rows))
    fold = np.arange(rows) % k
    diffs = np.empty((cases, k))
    for f in range(k):
        train, test = fold != f, fold == f
        scores = []
        for block in (slice(0, features), slice(features, 2 * features)):
            xt, yt = x[:, train, block], y[:, train]
            x_mean, y_mean = xt.mean(axis=1, keepdims=True), yt.mean(axis=1, keepdims=True)
            centred = xt - x_mean
            gram = np.einsum("cni,cnj->cij", centred, centred)
            coef = np.linalg.solve(gram, np.einsum("cni,cn->ci", centred, yt - y_mean)[..., None])[..., 0]
            predicted = y_mean + np.einsum("cni,ci->cn", x[:, test, block] - x_mean, coef)
            scores.append(-((y[:, test] - predicted) ** 2).mean(axis=1))
        diffs[:, f] = scores[0] - scores[1]
    return diffs


def _false_pass_rate(diffs: np.ndarray, gate: Gate) -> float:
    return float(np.mean([compare(list(row), gate).passed for row in diffs]))


@pytest.mark.parametrize("k", [5, 10])
def test_the_default_gate_passes_no_more_null_cases_than_its_level_and_the_bootstrap_does(k: int) -> None:
    diffs = _null_kfold_cv(seed=17, cases=4000, rows=40, features=10, k=k)
    nominal = (1 - 0.95) / 2  # a pass is the lower end of a two-sided 95% interval above 0
    default = _false_pass_rate(diffs, Gate())
    bootstrap = _false_pass_rate(diffs, Gate(rule="bootstrap", resamples=2000))
    # Measured (seed 17, 4,000 cases): k=5 corrected-t 0.6%, t-test 2.5%, bootstrap 9.7%;
    # k=10 0.15%, 1.9%, 4.9%: more folds do not make the bootstrap honest.
    assert default <= nominal, f"corrected-t passed {default:.2%} of null cases, above its {nominal:.1%}"
    assert bootstrap > nominal, f"the bootstrap passed {bootstrap:.2%}: the contrast is gone"
