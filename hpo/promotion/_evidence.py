"""The promotion gate's statistics: is a challenger's per-fold improvement larger than its uncertainty?

Pure (no ClearML): the inputs are per-fold scores on the *same* folds, the output an
:class:`Comparison` per candidate, and :func:`pick` of the one that passes surest.

The improvement of a candidate over the champion is the mean over the folds of the paired
per-fold differences (candidate minus champion for a ``max`` objective, champion minus candidate
for ``min``: positive is better). Its two-sided interval comes from one of these rules:

- ``corrected-t``: Nadeau & Bengio's corrected resampled t interval, mean +- t quantile *
  sd * sqrt(1/k + n_test/n_train) with k - 1 degrees of freedom. Folds that share training rows
  (K-fold CV: any two training sets share all but 2/k of the rows) give correlated differences,
  whose plain sd underestimates the mean's spread; the n_test/n_train term (1/(k-1) for K-fold CV)
  corrects for it;
- ``t-test``: the plain paired t interval (mean +- t quantile * sd / sqrt(k)), right where the
  folds share no training rows (independent held-out sets);
- ``bootstrap``: a paired bootstrap of the folds (resample the folds with replacement, take the
  mean difference; the percentile interval of ``resamples`` such means, from a seeded generator,
  so the same inputs always give the same interval). On few folds it is too narrow: with 5 folds
  about 0.6x the t interval's width, and blind to the folds' correlation.
- ``auto`` (the default) picks ``corrected-t`` where the folds share training rows, ``t-test``
  where they do not, at any number of folds: the bootstrap does not become right at 10 folds of
  K-fold CV, whose training sets overlap more, not less (``tests/promotion/test_evidence.py``
  simulates it). The rule applied is what :class:`Comparison` records and :func:`describe` names.

A candidate passes when the lower end of its interval exceeds ``min_improvement``. Comparing the
top ``n`` candidates picks the best of ``n`` tries, which alone would make a lucky pass likelier;
so each interval is taken at the Bonferroni confidence ``1 - (1 - confidence) / n``, which keeps
the chance that any of them passes by luck at most ``1 - confidence``. Of those that pass, the one
with the highest lower end wins (the surest improvement, not the luckiest mean).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hpo.errors import ConfigError

AUTO, CORRECTED_T, T_TEST, BOOTSTRAP, NONE = "auto", "corrected-t", "t-test", "bootstrap", "none"
RULES = (AUTO, CORRECTED_T, T_TEST, BOOTSTRAP, NONE)


@dataclass(frozen=True)
class Gate:
    """How sure an improvement must be before a new champion replaces the current one.

    Attributes:
        rule: ``auto`` (``corrected-t`` on folds that share training rows, else ``t-test``),
            ``corrected-t``, ``t-test``, ``bootstrap``, or ``none`` (no gate: the champion rule on
            mean values alone).
        confidence: Two-sided confidence of the interval (for all candidates together).
        min_improvement: The interval's lower end must exceed this (objective units, e.g. 0.01 accuracy).
        top_k: How many of the search's best trials are compared with the champion.
        resamples: Bootstrap resamples.
        seed: Seed of the bootstrap's generator.
    """

    rule: str = AUTO
    confidence: float = 0.95
    min_improvement: float = 0.0
    top_k: int = 3
    resamples: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"--gate: {self.rule!r} is not a gate rule; fix: use one of {', '.join(RULES)}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"--confidence: {self.confidence} is not in [0.5, 1); fix: pass e.g. 0.95")
        if not math.isfinite(self.min_improvement) or self.min_improvement < 0:
            raise ConfigError(
                f"--min-improvement: {self.min_improvement} is negative or not a number; fix: pass 0 or more"
            )
        if self.top_k < 1:
            raise ConfigError(f"--top-k: {self.top_k} is below 1; fix: pass 1 or more (default 3)")
        if self.resamples < 100:
            raise ConfigError(f"resamples: {self.resamples} is below 100; fix: pass 1000 or more")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def applied(self, shared_training: bool) -> str:
        """The interval rule used on folds that do (K-fold CV) or do not share training rows."""
        if self.rule == NONE:
            raise ValueError("the 'none' gate compares no intervals")
        if self.rule != AUTO:
            return self.rule
        return CORRECTED_T if shared_training else T_TEST


@dataclass(frozen=True)
class Comparison:
    """One candidate against the champion on the same folds (``improvement``: positive is better).

    ``rule`` is the interval rule applied (never ``auto``).
    """

    improvement: float
    low: float
    high: float
    confidence: float
    passed: bool
    rule: str = CORRECTED_T

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def differences(candidate: Sequence[float], champion: Sequence[float], direction: str) -> list[float]:
    """Per-fold improvements of ``candidate`` over ``champion`` (positive is better for either direction).

    Raises:
        ValueError: The two do not have the same number of folds, or fewer than two.
    """
    if len(candidate) != len(champion) or len(candidate) < 2:
        raise ValueError(f"paired scores need the same folds, at least two: got {len(candidate)} and {len(champion)}")
    sign = 1.0 if direction == "max" else -1.0
    return [sign * (c - o) for c, o in zip(candidate, champion, strict=True)]


def bootstrap_interval(diffs: Sequence[float], confidence: float, resamples: int, seed: int) -> tuple[float, float]:
    """Percentile interval of the mean of ``diffs`` under a seeded paired bootstrap."""
    import numpy as np

    values = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[picks].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def t_interval(diffs: Sequence[float], confidence: float, test_train_ratio: float = 0.0) -> tuple[float, float]:
    """Paired t interval of the mean of ``diffs`` (k - 1 degrees of freedom).

    Args:
        diffs: The per-fold differences.
        confidence: Two-sided confidence.
        test_train_ratio: Nadeau & Bengio's correction, n_test/n_train of one fold: the variance of
            the mean is taken as ``(1/k + test_train_ratio) * sd**2`` instead of ``sd**2 / k``.
            0 (the plain t) for folds that share no training rows; :func:`kfold_ratio` for K-fold CV.
    """
    from scipy import stats

    k = len(diffs)
    mean = statistics.fmean(diffs)
    scale = statistics.stdev(diffs) * math.sqrt(1.0 / k + test_train_ratio)
    half = float(stats.t.ppf(0.5 + confidence / 2, k - 1)) * scale
    return mean - half, mean + half


def kfold_ratio(k: int) -> float:
    """n_test/n_train of K-fold CV: each held-out fold is 1/(k-1) the size of its training folds."""
    return 1.0 / (k - 1)


def compare(diffs: Sequence[float], gate: Gate, candidates: int = 1, *, shared_training: bool = True) -> Comparison:
    """The interval of the mean improvement, at the Bonferroni confidence for ``candidates`` comparisons.

    Args:
        diffs: Per-fold improvements (:func:`differences`).
        gate: The rule and its parameters.
        candidates: How many candidates are compared with the champion (Bonferroni).
        shared_training: Whether the folds share training rows (K-fold CV does; independent
            held-out sets do not): what ``auto`` decides by.
    """
    rule = gate.applied(shared_training)
    confidence = 1.0 - (1.0 - gate.confidence) / max(candidates, 1)
    mean = statistics.fmean(diffs)
    if rule == BOOTSTRAP:
        low, high = bootstrap_interval(diffs, confidence, gate.resamples, gate.seed)
    else:
        low, high = t_interval(diffs, confidence, kfold_ratio(len(diffs)) if rule == CORRECTED_T else 0.0)
    return Comparison(mean, low, high, confidence, passed=low > gate.min_improvement, rule=rule)


def pick(comparisons: Sequence[Comparison]) -> int | None:
    """Index of the passing comparison with the highest lower end (the first on a tie), or None."""
    passing = [i for i, c in enumerate(comparisons) if c.passed]
    return max(passing, key=lambda i: (comparisons[i].low, -i)) if passing else None


def describe(comparison: Comparison, folds: int) -> str:
    """``+0.021 [+0.008, +0.034] (corrected-t, 98.3%, 5 folds)``: the rule applied, not ``auto``."""
    return (
        f"{comparison.improvement:+.4f} [{comparison.low:+.4f}, {comparison.high:+.4f}]"
        f" ({comparison.rule}, {comparison.confidence:.1%}, {folds} folds)"
    )


__all__ = [
    "AUTO",
    "BOOTSTRAP",
    "CORRECTED_T",
    "NONE",
    "RULES",
    "T_TEST",
    "Comparison",
    "Gate",
    "bootstrap_interval",
    "compare",
    "describe",
    "differences",
    "kfold_ratio",
    "pick",
    "t_interval",
]
