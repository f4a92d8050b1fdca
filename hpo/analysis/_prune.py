"""Why a trial was pruned: the threshold it missed, computed from the study as Optuna's pruner does.

Called right after ``trial.should_prune()`` said yes, with the study's trials as they are then:

- ``MedianPruner`` / ``PercentilePruner``: Optuna compares the trial's *best* intermediate value so
  far with the percentile (50 for the median) of the COMPLETE trials' values at this step
  (``optuna/pruners/_percentile.py``); we compute that percentile the same way (``np.nanpercentile``,
  ``100 - p`` when maximising) and say how many trials it was taken over.
- ``SuccessiveHalvingPruner``: the pruner wrote the trial's value at its rung as the system attribute
  ``completed_rung_<k>`` and found it outside the top ``1 / reduction_factor`` of the values recorded
  at that rung (``optuna/pruners/_successive_halving.py``); we read the rung and recompute that cut-off.
- ``HyperbandPruner``: the same, among the trials of the trial's bracket, drawn as Optuna draws it
  (a CRC32 of the study name and trial number over the brackets' budgets) when the space gives
  ``max_resource``; with ``auto`` Optuna fixes it from the trials complete at its first prune, which
  is not recorded, so the cut-off is not recomputed (the reason says so).

Pure: no ClearML, no storage writes.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial, TrialState

PRUNER_CLASSES = {
    "median": "MedianPruner",
    "percentile": "PercentilePruner",
    "asha": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
}
_RUNG_PREFIX = "completed_rung_"  # Optuna's system attribute of a trial's value at a successive-halving rung


@dataclass(frozen=True)
class PruneReason:
    """Why one trial was pruned.

    Attributes:
        pruner: The pruner's class name (``MedianPruner``...).
        step: The step (reported iteration) at which it was pruned.
        value: The trial's intermediate value at that step.
        compared: The value the pruner compared (the best so far for the median; the rung value for ASHA).
        threshold: The value it had to beat, when known.
        rule: What the threshold is (``median of 4 completed trials at step 3``).
    """

    pruner: str
    step: int
    value: float | None
    compared: float | None
    threshold: float | None
    rule: str

    @property
    def text(self) -> str:
        """One line for a status message and a ClearML property."""
        head = f"pruned by {self.pruner} at step {self.step}"
        if self.compared is None:
            return f"{head}: {self.rule}"
        if self.threshold is None:
            return f"{head}: value {_fmt(self.compared)}; {self.rule}"
        return f"{head}: value {_fmt(self.compared)} did not beat {_fmt(self.threshold)}, the {self.rule}"

    def as_attr(self) -> dict[str, Any]:
        """The trial's ``pruned_at`` user attribute (JSON: NaN becomes ``None``)."""
        out = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}
        return {**out, "reason": self.text}


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def explain(
    pruner: str,
    options: Mapping[str, Any],
    trials: Sequence[FrozenTrial],
    trial: FrozenTrial,
    step: int,
    maximize: bool,
    study_name: str = "",
) -> PruneReason:
    """Why ``trial`` was pruned at ``step`` by the pruner the space names.

    Args:
        pruner: The space's pruner name (``median``, ``asha``, ``hyperband``) or a class name.
        options: The pruner's keyword arguments as the space gives them.
        trials: The study's trials when it was pruned (``trial`` among them, as stored after the prune).
        trial: The pruned trial, as stored (its intermediate values and system attributes).
        step: The step it was pruned at.
        maximize: Whether the study maximises.
        study_name: The study's name (Hyperband draws a trial's bracket from it and the trial's number).

    Returns:
        The pruner's class, the step, the value and the threshold it missed (``None`` when unknown).
    """
    name = PRUNER_CLASSES.get(pruner, pruner)
    value = trial.intermediate_values.get(step)
    if name in ("MedianPruner", "PercentilePruner"):
        percentile = 50.0 if name == "MedianPruner" else float(options.get("percentile", 50.0))
        n_min = int(options.get("n_min_trials", 1))
        return _percentile_reason(name, percentile, n_min, trials, trial, step, value, maximize)
    if name in ("SuccessiveHalvingPruner", "HyperbandPruner"):
        factor = int(options.get("reduction_factor", 4 if name == "SuccessiveHalvingPruner" else 3))
        bootstrap = int(options.get("bootstrap_count", 0))
        if name == "HyperbandPruner":
            trials = _same_bracket(options, trials, trial, study_name)
        return _rung_reason(name, factor, bootstrap, trials, trial, step, value, maximize)
    return PruneReason(name, step, value, value, None, "threshold not computed for this pruner")


def percentile_threshold(
    trials: Sequence[FrozenTrial], step: int, percentile: float, maximize: bool, n_min_trials: int = 1
) -> tuple[float, int]:
    """The value a trial must beat at ``step`` under a percentile pruner, and over how many trials.

    As Optuna: the COMPLETE trials that reported ``step``; ``100 - percentile`` when maximising; NaN
    when fewer than ``n_min_trials`` reported it.
    """
    values = np.array(
        [
            t.intermediate_values[step]
            for t in trials
            if t.state == TrialState.COMPLETE and step in t.intermediate_values
        ],
        dtype=float,
    )
    if len(values) < n_min_trials or len(values) == 0 or np.isnan(values).all():
        return math.nan, len(values)
    q = 100.0 - percentile if maximize else percentile
    return float(np.nanpercentile(values, q)), len(values)


def best_so_far(trial: FrozenTrial, maximize: bool) -> float:
    """The trial's best intermediate value over its steps (what a percentile pruner compares)."""
    values = np.asarray(list(trial.intermediate_values.values()), dtype=float)
    if values.size == 0 or np.isnan(values).all():
        return math.nan
    return float(np.nanmax(values) if maximize else np.nanmin(values))


def _percentile_reason(
    name: str,
    percentile: float,
    n_min: int,
    trials: Sequence[FrozenTrial],
    trial: FrozenTrial,
    step: int,
    value: float | None,
    maximize: bool,
) -> PruneReason:
    threshold, count = percentile_threshold(trials, step, percentile, maximize, n_min)
    compared = best_so_far(trial, maximize)
    what = "median" if percentile == 50.0 else f"{percentile:g}th percentile"
    rule = f"{what} of {count} completed trial{'s' if count != 1 else ''} at step {step}"
    if math.isnan(compared):
        return PruneReason(name, step, value, None, None, "its intermediate values are all NaN")
    return PruneReason(name, step, value, compared, None if math.isnan(threshold) else threshold, rule)


def rung_of(trial: FrozenTrial) -> int | None:
    """The last successive-halving rung the trial reached (where a pruned trial failed), else ``None``."""
    rungs = [int(k.removeprefix(_RUNG_PREFIX)) for k in trial.system_attrs if k.startswith(_RUNG_PREFIX)]
    return max(rungs) if rungs else None


def rung_cutoff(values: Sequence[float], factor: int, maximize: bool) -> float:
    """The worst value still promoted from a rung holding ``values`` (the pruned trial's among them).

    As Optuna: the top ``len // factor`` values (at least one) are promoted.
    """
    ordered = sorted(values)
    index = max(len(ordered) // factor - 1, 0)
    return ordered[-(index + 1)] if maximize else ordered[index]


def hyperband_bracket(options: Mapping[str, Any], study_name: str, number: int) -> int | None:
    """The bracket of trial ``number`` as Optuna's ``HyperbandPruner`` draws it (a CRC32 of the study name
    and the number over the brackets' trial budgets), when ``max_resource`` is given; ``None`` for
    ``auto`` (Optuna fixes it from the trials complete at its first prune, which is not recorded)."""
    max_resource = options.get("max_resource", "auto")
    if not isinstance(max_resource, int) or isinstance(max_resource, bool):
        return None
    min_resource = int(options.get("min_resource", 1))
    factor = int(options.get("reduction_factor", 3))
    brackets = math.floor(math.log(max_resource / min_resource, factor)) + 1
    budgets = [math.ceil(brackets * factor ** (brackets - 1 - b) / (brackets - b)) for b in range(brackets)]
    n = binascii.crc32(f"{study_name}_{number}".encode()) % sum(budgets)
    for bracket, budget in enumerate(budgets):
        n -= budget
        if n < 0:
            return bracket
    return None


def _same_bracket(
    options: Mapping[str, Any], trials: Sequence[FrozenTrial], trial: FrozenTrial, study_name: str
) -> list[FrozenTrial]:
    """The trials of ``trial``'s Hyperband bracket (none when the bracket cannot be known)."""
    bracket = hyperband_bracket(options, study_name, trial.number) if study_name else None
    if bracket is None:
        return []
    return [t for t in trials if hyperband_bracket(options, study_name, t.number) == bracket]


def _rung_reason(
    name: str,
    factor: int,
    bootstrap: int,
    trials: Sequence[FrozenTrial],
    trial: FrozenTrial,
    step: int,
    value: float | None,
    maximize: bool,
) -> PruneReason:
    rung = rung_of(trial)
    if rung is None:
        return PruneReason(name, step, value, value, None, "no rung recorded")
    key = f"{_RUNG_PREFIX}{rung}"
    compared = float(trial.system_attrs[key])
    if name == "HyperbandPruner" and not trials:
        return PruneReason(name, step, value, compared, None, f"rung {rung}: its bracket's cut-off not recomputed")
    others = [float(t.system_attrs[key]) for t in trials if t.number != trial.number and key in t.system_attrs]
    competing = [*others, compared]
    if len(competing) <= bootstrap:
        rule = f"rung {rung}: {len(competing)} trial(s) there, fewer than bootstrap_count={bootstrap}"
        return PruneReason(name, step, value, compared, None, rule)
    cutoff = rung_cutoff(competing, factor, maximize)
    keep = max(len(competing) // factor, 1)
    rule = f"rung {rung} cut-off (top {keep} of {len(competing)} promoted)"
    return PruneReason(name, step, value, compared, cutoff, rule)


__all__ = [
    "PRUNER_CLASSES",
    "PruneReason",
    "best_so_far",
    "explain",
    "hyperband_bracket",
    "percentile_threshold",
    "rung_cutoff",
    "rung_of",
]
