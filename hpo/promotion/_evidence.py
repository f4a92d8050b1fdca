"""The promotion gate's statistics: is a challenger's per-fold improvement larger than its uncertainty?

Pure (no ClearML): the inputs are per-fold scores on the *same* folds, the output an
:class:`Comparison` per candidate and a :class:`Verdict`.

The improvement of a candidate over the champion is the mean over the folds of the paired
per-fold differences (candidate minus champion for a ``max`` objective, champion minus candidate
for ``min``: positive is better). Its two-sided interval comes from:

- ``bootstrap``: a paired bootstrap of the folds (resample the folds with replacement, take the
  mean difference; the percentile interval of ``resamples`` such means, from a seeded generator,
  so the same inputs always give the same interval);
- ``t-test``: a paired t interval (mean +- t quantile * sd / sqrt(k)).

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

RULES = ("bootstrap", "t-test", "none")


@dataclass(frozen=True)
class Gate:
    """How sure an improvement must be before a new champion replaces the current one.

    Attributes:
        rule: ``bootstrap``, ``t-test``, or ``none`` (no gate: the champion rule on mean values alone).
        confidence: Two-sided confidence of the interval (for all candidates together).
        min_improvement: The interval's lower end must exceed this (objective units, e.g. 0.01 accuracy).
        top_k: How many of the search's best trials are compared with the champion.
        resamples: Bootstrap resamples.
        seed: Seed of the bootstrap's generator.
    """

    rule: str = "bootstrap"
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


@dataclass(frozen=True)
class Comparison:
    """One candidate against the champion on the same folds (``improvement``: positive is better)."""

    improvement: float
    low: float
    high: float
    confidence: float
    passed: bool

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


def t_interval(diffs: Sequence[float], confidence: float) -> tuple[float, float]:
    """Paired t interval of the mean of ``diffs`` (k - 1 degrees of freedom)."""
    from scipy import stats

    mean = statistics.fmean(diffs)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1)) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean - half, mean + half


def compare(diffs: Sequence[float], gate: Gate, candidates: int = 1) -> Comparison:
    """The interval of the mean improvement, at the Bonferroni confidence for ``candidates`` comparisons."""
    if gate.rule == "none":
        raise ValueError("the 'none' gate compares no intervals")
    confidence = 1.0 - (1.0 - gate.confidence) / max(candidates, 1)
    mean = statistics.fmean(diffs)
    if gate.rule == "bootstrap":
        low, high = bootstrap_interval(diffs, confidence, gate.resamples, gate.seed)
    else:
        low, high = t_interval(diffs, confidence)
    return Comparison(mean, low, high, confidence, passed=low > gate.min_improvement)


def pick(comparisons: Sequence[Comparison]) -> int | None:
    """Index of the passing comparison with the highest lower end (the first on a tie), or None."""
    passing = [i for i, c in enumerate(comparisons) if c.passed]
    return max(passing, key=lambda i: (comparisons[i].low, -i)) if passing else None


def describe(comparison: Comparison, gate: Gate, folds: int) -> str:
    """``+0.021 [+0.008, +0.034] (bootstrap, 98.3%, 5 folds)``."""
    return (
        f"{comparison.improvement:+.4f} [{comparison.low:+.4f}, {comparison.high:+.4f}]"
        f" ({gate.rule}, {comparison.confidence:.1%}, {folds} folds)"
    )


__all__ = [
    "RULES",
    "Comparison",
    "Gate",
    "bootstrap_interval",
    "compare",
    "describe",
    "differences",
    "pick",
    "t_interval",
]
