"""``--stop-when converged``: end a search once more trials cannot beat the best by more than its noise.

The rule is Optuna's Terminator (Makarova et al., "Automatic termination for hyperparameter
optimization", 2022): a Gaussian-process upper bound on the regret of the best trial so far
(:class:`optuna.terminator.RegretBoundEvaluator`) is compared with the statistical error of the
objective. The search has converged when ``regret bound <= noise``. The noise is, for the best
trial (as Optuna's evaluators take it):

1. the standard error its task reported for the objective: the series ``<series>_se`` under the
   same title (``cv/accuracy_se`` for ``cv/accuracy``), recorded as the trial's ``objective_se``;
2. else its per-fold cross-validation scores (Optuna's ``terminator:cv_scores`` system attribute,
   which the controller fills from a ``cv_folds`` artifact) through
   :class:`optuna.terminator.CrossValidationErrorEvaluator`;
3. else a static error, :attr:`ConvergeRule.static_noise` (``--converge-noise``).

Only trials that really ran (or were added by ``--warm-start``) count: a skipped duplicate would
weigh its configuration twice. Nothing is decided before :attr:`ConvergeRule.min_trials` of them.
The evaluators fit a GP with torch and scipy, imported on first use (:func:`require_terminator`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from hpo._extras import require_extra
from hpo.errors import ConfigError
from hpo.study import Objective, TrialAttr, TrialLabel, trial_label

log = logging.getLogger(__name__)

STOP_WHEN = ("converged",)
DEFAULT_MIN_TRIALS = 20  # Optuna's Terminator default: a GP on fewer points bounds little
DEFAULT_NOISE = 0.01  # in the objective's units: one point of an accuracy on [0, 1]
EXTRA = "converge"
CV_SCORES_KEY = "terminator:cv_scores"  # where optuna.terminator.report_cross_validation_scores writes
CV_ARTIFACT = "cv_folds"  # base_tasks/_common.py report_cv: {"k", "signatures", "scores": [{metric: value}]}
COUNTED = (TrialLabel.COMPLETED, TrialLabel.WARM_START)

RegretBound = Callable[[list[FrozenTrial], StudyDirection], float]


@dataclass(frozen=True)
class ConvergeRule:
    """When a search counts as converged.

    Attributes:
        min_trials: Completed trials needed before the rule is evaluated at all.
        static_noise: The objective's noise when its best trial reports neither a standard error
            nor per-fold scores (in the objective's units).
        seed: Seed of the regret bound's sampling (the same study, the same verdict).
    """

    min_trials: int = DEFAULT_MIN_TRIALS
    static_noise: float = DEFAULT_NOISE
    seed: int | None = 0


@dataclass(frozen=True)
class Verdict:
    """One evaluation of the rule.

    Attributes:
        trials: Trials counted (completed or warm-start).
        regret: The regret bound, when evaluated.
        noise: The noise it was compared with, when evaluated.
        noise_source: Where the noise came from.
        converged: Whether ``regret <= noise``.
    """

    trials: int
    regret: float | None = None
    noise: float | None = None
    noise_source: str = ""
    converged: bool = False

    @property
    def reason(self) -> str:
        """``converged: regret bound X <= noise Y after N trials`` (the search's stop reason)."""
        return f"converged: regret bound {self.regret:.4g} <= noise {self.noise:.4g} after {self.trials} trials"

    def as_attr(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "regret_bound": self.regret,
            "noise": self.noise,
            "noise_source": self.noise_source,
            "converged": self.converged,
        }


def parse_rule(
    stop_when: str | None, objectives: Sequence[Objective], min_trials: int | None, noise: float | None
) -> ConvergeRule | None:
    """The rule ``--stop-when`` asks for (None when it is not given), checked.

    Raises:
        ConfigError: An unknown ``--stop-when``, a bad option, several objectives, or torch/scipy missing.
    """
    if stop_when is None:
        if min_trials is not None or noise is not None:
            raise ConfigError("--converge-min-trials and --converge-noise need --stop-when converged; add it")
        return None
    if stop_when not in STOP_WHEN:
        raise ConfigError(f"--stop-when {stop_when!r} is unknown; use --stop-when converged, or leave it out")
    if len(objectives) != 1:
        raise ConfigError(
            f"--stop-when converged needs a single objective, the space has {len(objectives)}; drop it or one objective"
        )
    rule = ConvergeRule(
        min_trials=DEFAULT_MIN_TRIALS if min_trials is None else min_trials,
        static_noise=DEFAULT_NOISE if noise is None else noise,
    )
    if rule.min_trials < 2:
        raise ConfigError(f"--converge-min-trials must be at least 2, got {rule.min_trials}; a GP needs points")
    if not math.isfinite(rule.static_noise) or rule.static_noise < 0:
        raise ConfigError(f"--converge-noise must be a finite number >= 0, got {rule.static_noise}")
    require_terminator()
    return rule


def require_terminator() -> None:
    """Import what the regret bound needs now, so a missing package fails before any task is cloned.

    Raises:
        ConfigError: torch, scipy or ``optuna.terminator`` is missing, naming the extra to install.
    """
    require_extra("scipy.stats", EXTRA, "--stop-when converged")  # optuna._gp's search space and optimiser
    require_extra("torch", EXTRA, "--stop-when converged")  # optuna._gp's Gaussian process
    try:
        from optuna.terminator import RegretBoundEvaluator  # noqa: F401  # removed in optuna 6
    except ImportError as err:
        raise ConfigError(
            f"--stop-when converged: needs optuna.terminator, which this optuna lacks ({err}); pip install 'optuna<6'"
        ) from err


def optuna_regret_bound(seed: int | None) -> RegretBound:
    """Optuna's :class:`~optuna.terminator.RegretBoundEvaluator` as a function of trials and direction."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.terminator import RegretBoundEvaluator

    with warnings.catch_warnings():  # experimental since 3.2: we pin what we rely on by tests
        warnings.simplefilter("ignore", ExperimentalWarning)
        evaluator = RegretBoundEvaluator(seed=seed)

    def bound(trials: list[FrozenTrial], direction: StudyDirection) -> float:
        return float(evaluator.evaluate(trials=trials, study_direction=direction))

    return bound


def counted(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The trials the rule counts: complete, and really run or added by ``--warm-start``."""
    return [t for t in trials if t.state == TrialState.COMPLETE and trial_label(t) in COUNTED and t.value is not None]


def noise_of(best: FrozenTrial, rule: ConvergeRule, direction: StudyDirection) -> tuple[float, str]:
    """The objective's noise at the best trial, and where it came from (see the module docstring)."""
    se = best.user_attrs.get(TrialAttr.OBJECTIVE_SE)
    if se is not None and math.isfinite(float(se)):
        return float(se), f"the standard error trial {best.number} reported"
    scores = best.system_attrs.get(CV_SCORES_KEY)
    if isinstance(scores, list) and len(scores) > 1:
        from optuna.exceptions import ExperimentalWarning
        from optuna.terminator import CrossValidationErrorEvaluator

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            evaluator = CrossValidationErrorEvaluator()
        return float(evaluator.evaluate([best], direction)), f"the {len(scores)} fold scores of trial {best.number}"
    return rule.static_noise, "--converge-noise (the template reports no standard error or fold scores)"


def evaluate(
    trials: Sequence[FrozenTrial],
    direction: StudyDirection,
    rule: ConvergeRule,
    regret_bound: RegretBound | None = None,
) -> Verdict:
    """Whether the search has converged, given its trials.

    Args:
        trials: Every trial of the study (the rule picks those it counts).
        direction: The study's direction.
        rule: The rule.
        regret_bound: How the regret bound is computed (default: Optuna's evaluator).
    """
    used = counted(trials)
    if len(used) < rule.min_trials:
        return Verdict(trials=len(used))
    pick = max if direction == StudyDirection.MAXIMIZE else min
    best = pick(used, key=lambda t: float(t.value or 0.0))
    noise, source = noise_of(best, rule, direction)
    regret = (regret_bound or optuna_regret_bound(rule.seed))(used, direction)
    return Verdict(len(used), regret, noise, source, converged=regret <= noise)


def fold_scores(artifact: Any, metric: str) -> list[float] | None:
    """The per-fold scores of ``metric`` in a ``cv_folds`` artifact's content, when it has them."""
    if not isinstance(artifact, Mapping):
        return None
    rows = artifact.get("scores")
    if not isinstance(rows, list):
        return None
    scores: list[float] = []
    for row in rows:
        score = row.get(metric) if isinstance(row, Mapping) else row
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            return None
        scores.append(float(score))
    return scores if len(scores) > 1 else None


def record_noise(trial: optuna.Trial, task: Any, objective: Objective, se: float | None, folds: bool) -> None:
    """Record a completed trial's noise: its reported standard error, else (when ``folds``) the fold
    scores of its ``cv_folds`` artifact (one download, so only when a rule will read them)."""
    if se is not None:
        trial.set_user_attr(TrialAttr.OBJECTIVE_SE, se)
        return
    if not folds:
        return
    try:
        artifact = (task.artifacts or {}).get(CV_ARTIFACT)
        scores = fold_scores(artifact.get(), objective.series) if artifact is not None else None
    except Exception as err:  # the noise is a refinement; the static one stands in
        log.warning("cannot read the %s artifact of task %s: %s", CV_ARTIFACT, getattr(task, "id", "?"), err)
        return
    if scores is not None:
        from optuna.terminator import report_cross_validation_scores

        with warnings.catch_warnings():  # deprecated with the module (optuna 4.9); the key stays Optuna's
            warnings.simplefilter("ignore", FutureWarning)
            report_cross_validation_scores(trial, scores)


__all__ = [
    "CV_SCORES_KEY",
    "DEFAULT_MIN_TRIALS",
    "DEFAULT_NOISE",
    "STOP_WHEN",
    "ConvergeRule",
    "Verdict",
    "counted",
    "evaluate",
    "fold_scores",
    "noise_of",
    "optuna_regret_bound",
    "parse_rule",
    "record_noise",
    "require_terminator",
]
