"""Which trial of a study is its best: only completed trials whose ClearML task completed.

Eligible trials are Optuna ``COMPLETE`` trials that the search labelled ``completed`` (or never
labelled), that carry a ClearML ``task_id``, and whose task *now* has a status in
:data:`hpo.task_status.SUCCEEDED` (``completed`` or ``published``): a trial whose task is still
running, failed, or was stopped or closed is never promoted, whatever Optuna recorded.

With one objective the best is the extreme value. With several, the best is taken from the
first non-dominated front of the eligible trials (a true Pareto sort, not Optuna's
``best_trials`` over all trials), and the tie-break among the front is lexicographic: the best
value of the first objective, then of the second, ..., then the lowest trial number.
:func:`ranked` lists the best few (what the promotion gate compares): the best first, then the
other eligible trials by the same lexicographic order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.study import Objective, TrialAttr, TrialLabel, objectives_of
from hpo.task_status import SUCCEEDED


@dataclass(frozen=True)
class Candidate:
    """The trial chosen for promotion, with what the model's metadata records."""

    number: int
    values: tuple[float, ...]
    params: dict[str, Any]
    task_id: str
    model_id: str | None


def dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    """Whether ``a`` Pareto-dominates ``b``: no worse on every objective, strictly better on one."""
    no_worse = all(not o.better(y, x) for o, x, y in zip(objectives, a, b, strict=True))
    return no_worse and any(o.better(x, y) for o, x, y in zip(objectives, a, b, strict=True))


def first_front(trials: Sequence[FrozenTrial], objectives: Sequence[Objective]) -> list[FrozenTrial]:
    """The non-dominated trials among ``trials`` (O(n^2): studies hold hundreds of trials, not millions)."""
    return [t for t in trials if not any(dominates(o.values, t.values, objectives) for o in trials if o is not t)]


def _rank_key(trial: FrozenTrial, objectives: Sequence[Objective]) -> tuple[float | int, ...]:
    signed = [-v if o.direction == "max" else v for o, v in zip(objectives, trial.values, strict=True)]
    return (*signed, trial.number)


def best_of(trials: Sequence[FrozenTrial], objectives: Sequence[Objective]) -> FrozenTrial | None:
    """The best trial: the first front, then the stated lexicographic tie-break."""
    if not trials:
        return None
    front = first_front(trials, objectives) if len(objectives) > 1 else list(trials)
    return min(front, key=lambda t: _rank_key(t, objectives))


def completed_in_study(study: optuna.Study) -> list[FrozenTrial]:
    """Trials the study itself says completed, each with a ClearML task."""
    out = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        label = trial.user_attrs.get(TrialAttr.STATE)
        if label not in (None, TrialLabel.COMPLETED) or not trial.user_attrs.get(TrialAttr.TASK_ID):
            continue
        if trial.values is None or any(v is None for v in trial.values):
            continue
        out.append(trial)
    return out


def _candidate(trial: FrozenTrial) -> Candidate:
    model_id = trial.user_attrs.get(TrialAttr.MODEL_ID)
    return Candidate(
        number=trial.number,
        values=tuple(float(v) for v in trial.values),
        params=dict(trial.params),
        task_id=str(trial.user_attrs[TrialAttr.TASK_ID]),
        model_id=str(model_id) if model_id else None,
    )


def ranked(study: optuna.Study, task_status: Mapping[str, str], limit: int = 1) -> tuple[list[Candidate], list[str]]:
    """The ``limit`` best eligible trials of ``study``, best first, given each task's ClearML status; and
    why others were skipped. The first is :func:`best_of`'s; the rest follow by the same tie-break.

    Args:
        study: The search's study.
        task_status: ClearML status by task id (a task missing from it was deleted).
        limit: How many to return at most.
    """
    objectives = objectives_of(study)
    eligible, skipped = [], []
    for trial in completed_in_study(study):
        task_id = str(trial.user_attrs[TrialAttr.TASK_ID])
        status = task_status.get(task_id)
        if status in SUCCEEDED:
            eligible.append(trial)
        else:
            skipped.append(f"trial {trial.number}: task {task_id} is {status or 'deleted'}")
    best = best_of(eligible, objectives)
    if best is None:
        return [], skipped
    rest = sorted((t for t in eligible if t is not best), key=lambda t: _rank_key(t, objectives))
    return [_candidate(t) for t in [best, *rest][: max(limit, 1)]], skipped


def choose(study: optuna.Study, task_status: Mapping[str, str]) -> tuple[Candidate | None, list[str]]:
    """The best eligible trial of ``study`` given each task's ClearML status; and why others were skipped.

    Args:
        study: The search's study.
        task_status: ClearML status by task id (a task missing from it was deleted).
    """
    found, skipped = ranked(study, task_status)
    return (found[0] if found else None), skipped


__all__ = [
    "Candidate",
    "best_of",
    "choose",
    "completed_in_study",
    "dominates",
    "first_front",
    "ranked",
]
