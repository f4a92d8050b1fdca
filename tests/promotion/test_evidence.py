"""The promotion gate's statistics (pure: no ClearML): known inputs, known intervals, the seed."""

from __future__ import annotations

import math

import pytest

from hpo.errors import ConfigError
from hpo.promotion._evidence import Gate, bootstrap_interval, compare, describe, differences, pick, t_interval


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


@pytest.mark.parametrize("rule", ["bootstrap", "t-test"])
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
    assert describe(steady, gate, 5).startswith("+0.0440 [+0.0") and "(t-test, 95.0%, 5 folds)" in describe(
        steady, gate, 5
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "vote"}, "--gate: 'vote' is not a gate rule; fix: use one of bootstrap, t-test, none"),
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
