"""What a study says about its search: counts, the best trial so far, timing, the top trials.

``counts`` has one entry per :class:`~hpo.study.TrialLabel` and ``interrupted``: the trials its
own search stopped (not spent; counted there, not under ``stopped``). ``done`` counts the trials
that are over and spent, so a search stopped and resumed ends with ``done == budget``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.study._budget import interrupted
from hpo.study._control import launched, search_state, trial_label
from hpo.study._keys import FINISHED_LABELS, SearchState, StudyAttr, TrialAttr, TrialLabel


@dataclass
class Summary:
    """What ``hpo status`` and the progress view show."""

    study: str
    state: str
    budget: int
    counts: dict[str, int]
    best_value: Any
    best_params: dict[str, Any]
    best_task_id: str | None
    elapsed_s: float
    eta_s: float | None
    objectives: list[list[str]]
    top: list[dict[str, Any]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    active: list[dict[str, Any]] = field(default_factory=list)  # queued and running trials, see _active_row
    best_number: int | None = None

    @property
    def done(self) -> int:
        """Trials that are over and spent (a skipped duplicate or an interrupted trial is not one)."""
        return sum(self.counts.get(label, 0) for label in FINISHED_LABELS)

    @property
    def interrupted(self) -> int:
        """Trials the search itself stopped (Ctrl-C, a time limit...): not spent, run again on resume."""
        return self.counts.get(TrialAttr.INTERRUPTED, 0)

    @property
    def log_file(self) -> str | None:
        """The log of the search's latest controller, when it recorded one."""
        path = self.attrs.get(StudyAttr.LOG_FILE)
        return str(path) if path else None

    @property
    def cost(self) -> dict[str, Any] | None:
        """What the search cost, as its latest analysis measured it (``hpo.analysis``), when it has one."""
        cost = self.attrs.get(StudyAttr.COST)
        return dict(cost) if isinstance(cost, dict) else None

    @property
    def stop_reason(self) -> str | None:
        reason = self.attrs.get(StudyAttr.STOP_REASON)
        return str(reason) if reason else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "state": self.state,
            "stop_reason": self.stop_reason,
            "budget": self.budget,
            "done": self.done,
            "counts": self.counts,
            "warm_start": self.attrs.get(StudyAttr.WARM_START),  # --warm-start: added and skipped tasks
            "convergence": self.attrs.get(StudyAttr.CONVERGENCE),  # --stop-when converged: the latest verdict
            "best": {
                "value": self.best_value,
                "params": self.best_params,
                "task_id": self.best_task_id,
                "trial": self.best_number,
            },
            "elapsed_s": round(self.elapsed_s, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "objectives": self.objectives,
            "top": self.top,
            "active": self.active,
            "template": self.attrs.get(StudyAttr.TEMPLATE),
            "template_id": self.attrs.get(StudyAttr.TEMPLATE_ID),
            "optimizer_task_id": self.attrs.get(StudyAttr.OPTIMIZER_TASK_ID),
            "optimizer_url": self.attrs.get(StudyAttr.OPTIMIZER_URL),
            "log_file": self.log_file,
            "cost": self.cost,  # compute, queue wait, per queue, saved by pruning (hpo.analysis)
        }


def _row(trial: FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "value": trial.values[0] if trial.values and len(trial.values) == 1 else trial.values,
        "params": dict(trial.params),
        "task_id": trial.user_attrs.get(TrialAttr.TASK_ID),
        "queue": trial.user_attrs.get(TrialAttr.QUEUE),
        "model_id": trial.user_attrs.get(TrialAttr.MODEL_ID),
        "state": trial_label(trial),
    }


def _active_row(trial: FrozenTrial) -> dict[str, Any]:
    """A queued or running trial: how far it got (its last reported iteration and objective value)."""
    progress = trial.user_attrs.get(TrialAttr.PROGRESS) or {}
    iteration, value = progress.get("iteration"), progress.get("value")
    if iteration is None and trial.intermediate_values:  # what the pruner was fed, when nothing else
        iteration = max(trial.intermediate_values)
        value = trial.intermediate_values[iteration]
    started = trial.datetime_start.timestamp() if trial.datetime_start else None
    return {
        "number": trial.number,
        "state": trial_label(trial),
        "task_id": trial.user_attrs.get(TrialAttr.TASK_ID),
        "queue": trial.user_attrs.get(TrialAttr.QUEUE),
        "iteration": iteration,
        "value": value,
        "started": started,
        "params": dict(trial.params),
    }


def _counts(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    counts = {str(label): 0 for label in TrialLabel}
    counts[TrialAttr.INTERRUPTED] = 0
    for trial in trials:
        label = trial_label(trial)
        if label == TrialLabel.FAILED and not launched(trial):
            continue  # never launched (a failed clone or a controller killed mid-launch): not a trial
        key = TrialAttr.INTERRUPTED if interrupted(trial) else label
        counts[key] = counts.get(key, 0) + 1
    return counts


def summarize(study: optuna.Study, top_k: int = 5) -> Summary:
    """Counts, the best trial so far, timing and the top trials of ``study``.

    Its ``state`` is the :class:`~hpo.study.SearchState` word, ``interrupted`` when the study says
    ``running`` but its controller died.
    """
    attrs = dict(study.user_attrs)
    trials = study.get_trials(deepcopy=False)
    counts = _counts(trials)
    real = [t for t in trials if t.state == TrialState.COMPLETE and trial_label(t) == TrialLabel.COMPLETED]
    best = _best(study, real)
    multi = len(study.directions) > 1
    sign = 1.0 if multi or study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    ranked = sorted(real, key=lambda t: sign * t.values[0]) if not multi else real
    running = attrs.get(StudyAttr.STATE) == SearchState.RUNNING
    started = float(attrs.get(StudyAttr.STARTED) or time.time())
    ended = attrs.get(StudyAttr.ENDED) if not running else None
    elapsed = float(ended or time.time()) - started
    budget = int(attrs.get(StudyAttr.BUDGET) or 0)
    finished = sum(counts[label] for label in FINISHED_LABELS)
    eta = elapsed / finished * max(0, budget - finished) if finished and running else None
    return Summary(
        study=study.study_name,
        state=search_state(attrs),
        budget=budget,
        counts=counts,
        best_value=None if best is None else (best.values[0] if not multi else best.values),
        best_params={} if best is None else dict(best.params),
        best_task_id=None if best is None else best.user_attrs.get(TrialAttr.TASK_ID),
        elapsed_s=max(0.0, elapsed),
        eta_s=eta,
        objectives=[list(o) for o in attrs.get(StudyAttr.OBJECTIVES) or []],
        top=[_row(t) for t in ranked[:top_k]],
        attrs=attrs,
        active=[_active_row(t) for t in trials if launched(t) and trial_label(t) in _ACTIVE],
        best_number=None if best is None else best.number,
    )


_ACTIVE = (TrialLabel.QUEUED, TrialLabel.RUNNING)


def _best(study: optuna.Study, completed: Sequence[FrozenTrial]) -> FrozenTrial | None:
    if not completed:
        return None
    if len(study.directions) > 1:
        numbers = {t.number for t in completed}
        front = [t for t in study.best_trials if t.number in numbers]
        return front[0] if front else None
    if study.direction == optuna.study.StudyDirection.MINIMIZE:
        return min(completed, key=lambda t: t.values[0])
    return max(completed, key=lambda t: t.values[0])


__all__ = ["Summary", "summarize"]
