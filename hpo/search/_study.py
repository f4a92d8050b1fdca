"""The search's memory: a persistent Optuna study (SQLite under ``$HPO_HOME`` or any RDB URL).

The study is named after the search. Study user attributes describe the search (space, template,
objectives, budget, state, the controller's pid and host, a stop request); each trial's user
attributes tie it to ClearML (``task_id``, ``queue``, ``model_id``) and record its ``state``:

    queued -> running -> completed | pruned | failed | stopped
    duplicate  (never launched: same configuration as an earlier trial; not counted in the budget)

The ClearML tasks are the truth about what ran; on resume the controller reconciles the two.
Anything may read a study while a search writes it (``hpo status``, ``optuna-dashboard``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo._processes import pid_alive
from hpo.errors import NotFoundError
from hpo.paths import hpo_home

log = logging.getLogger(__name__)

HEARTBEAT_STALE_S = 60.0  # a running controller writes its heartbeat every 10 s

# Trial ``state`` user attribute values.
QUEUED, RUNNING, COMPLETED, PRUNED, FAILED, STOPPED, DUPLICATE = (
    "queued",
    "running",
    "completed",
    "pruned",
    "failed",
    "stopped",
    "duplicate",
)
# Study ``state`` values.
SEARCH_RUNNING, SEARCH_FINISHED, SEARCH_STOPPED, SEARCH_FAILED = "running", "finished", "stopped", "failed"


def default_storage() -> str:
    """``sqlite:///$HPO_HOME/studies.db``."""
    home = hpo_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'studies.db'}"


def open_storage(url: str | None = None) -> optuna.storages.BaseStorage:
    """The Optuna storage at ``url`` (default: ``$HPO_STORAGE``, else :func:`default_storage`).

    Raises:
        ConfigError: The URL is not a storage Optuna can open (the message masks its password).
    """
    from hpo.search._rdb import open_rdb

    return open_rdb(url or os.environ.get("HPO_STORAGE") or default_storage())


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in optuna.study.get_all_study_summaries(storage, include_best_trial=False)]


def new_study_name(storage: optuna.storages.BaseStorage, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... when taken."""
    taken = set(study_names(storage))
    if base not in taken:
        return base
    numbers = [int(m.group(1)) for name in taken if (m := re.fullmatch(re.escape(base) + r"-(\d+)", name))]
    return f"{base}-{max(numbers, default=1) + 1}"


def latest_study_of(storage: optuna.storages.BaseStorage, space_name: str) -> str | None:
    """The most recently started study of search space ``space_name``."""
    best: tuple[float, str] | None = None
    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if attrs.get("space_name") == space_name:
            started = float(attrs.get("started") or 0)
            if best is None or started > best[0]:
                best = (started, summary.study_name)
    return best[1] if best else None


def load(storage: optuna.storages.BaseStorage, name: str, **kwargs: Any) -> optuna.Study:
    """An existing study.

    Raises:
        NotFoundError: No such study.
    """
    if name not in study_names(storage):
        known = ", ".join(study_names(storage)) or "none"
        raise NotFoundError(f"no study {name!r} in the storage (studies: {known}); see `hpo studies`")
    return optuna.load_study(study_name=name, storage=storage, **kwargs)


def mark_controller(study: optuna.Study) -> None:
    """Record that this process now drives the study."""
    study.set_user_attr("controller", {"pid": os.getpid(), "host": socket.gethostname()})
    study.set_user_attr("state", SEARCH_RUNNING)
    study.set_user_attr("stop_requested", False)
    study.set_user_attr("heartbeat", time.time())


def request_stop(storage: optuna.storages.BaseStorage, name: str) -> dict[str, Any]:
    """Ask the controller of study ``name`` to stop (it checks every poll); returns the study's attrs."""
    study = load(storage, name)
    study.set_user_attr("stop_requested", True)
    return dict(study.user_attrs)


def controller_gone(attrs: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the controller of a study that says it is running has died: its process is gone
    (same host), or it has not written its heartbeat for :data:`HEARTBEAT_STALE_S` (any host)."""
    if attrs.get("state") != SEARCH_RUNNING:
        return False
    controller = attrs.get("controller") or {}
    if controller.get("host") == socket.gethostname() and controller.get("pid"):
        return not pid_alive(int(controller["pid"]))
    return (now or time.time()) - float(attrs.get("heartbeat") or 0) > HEARTBEAT_STALE_S


def finish_trial(
    storage: optuna.storages.BaseStorage,
    study: optuna.Study,
    number: int,
    state: TrialState,
    attrs: Mapping[str, Any],
    values: Sequence[float] | None = None,
) -> None:
    """Label trial ``number`` with ``attrs`` and tell Optuna its outcome (a no-op if it has one)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    for key, value in attrs.items():  # through the storage: a finished trial object has no setter
        storage.set_trial_user_attr(trial_id, key, value)
    outcome = list(values) if values is not None and state == TrialState.COMPLETE else None
    study.tell(number, outcome, state=state, skip_if_finished=True)


def launched(trial: FrozenTrial) -> bool:
    """Whether the trial has (or had) a ClearML task: what the budget counts."""
    return bool(trial.user_attrs.get("task_id"))


def trial_state(trial: FrozenTrial) -> str:
    """The trial's state as the search sees it (Optuna's state for trials the controller never labelled)."""
    state = trial.user_attrs.get("state")
    if state:
        return str(state)
    return {TrialState.COMPLETE: COMPLETED, TrialState.PRUNED: PRUNED, TrialState.FAIL: FAILED}.get(trial.state, QUEUED)


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "state": self.state,
            "budget": self.budget,
            "counts": self.counts,
            "best": {"value": self.best_value, "params": self.best_params, "task_id": self.best_task_id},
            "elapsed_s": round(self.elapsed_s, 1),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "objectives": self.objectives,
            "top": self.top,
            "template": self.attrs.get("template"),
            "template_id": self.attrs.get("template_id"),
            "optimizer_task_id": self.attrs.get("optimizer_task_id"),
        }


def _row(trial: FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "value": trial.values[0] if trial.values and len(trial.values) == 1 else trial.values,
        "params": dict(trial.params),
        "task_id": trial.user_attrs.get("task_id"),
        "queue": trial.user_attrs.get("queue"),
        "model_id": trial.user_attrs.get("model_id"),
        "state": trial_state(trial),
    }


def summarize(study: optuna.Study, top_k: int = 5) -> Summary:
    """Counts, the best trial so far, timing and the top trials of ``study``."""
    attrs = dict(study.user_attrs)
    trials = study.get_trials(deepcopy=False)
    counts = {s: 0 for s in (COMPLETED, RUNNING, QUEUED, PRUNED, FAILED, STOPPED, DUPLICATE)}
    for trial in trials:
        state = trial_state(trial)
        if state == FAILED and not launched(trial):
            continue  # never launched (a failed clone or a controller killed mid-launch): not a trial
        counts[state] = counts.get(state, 0) + 1
    real = [t for t in trials if t.state == TrialState.COMPLETE and trial_state(t) == COMPLETED]
    best = _best(study, real)
    multi = len(study.directions) > 1
    sign = 1.0 if multi or study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    ranked = sorted(real, key=lambda t: sign * t.values[0]) if not multi else real
    started = float(attrs.get("started") or time.time())
    ended = attrs.get("ended") if attrs.get("state") != SEARCH_RUNNING else None
    elapsed = float(ended or time.time()) - started
    budget = int(attrs.get("budget") or 0)
    finished = sum(counts[s] for s in (COMPLETED, PRUNED, FAILED, STOPPED))
    eta = elapsed / finished * max(0, budget - finished) if finished and attrs.get("state") == SEARCH_RUNNING else None
    return Summary(
        study=study.study_name,
        state=str(attrs.get("state") or "unknown"),
        budget=budget,
        counts=counts,
        best_value=None if best is None else (best.values[0] if not multi else best.values),
        best_params={} if best is None else dict(best.params),
        best_task_id=None if best is None else best.user_attrs.get("task_id"),
        elapsed_s=max(0.0, elapsed),
        eta_s=eta,
        objectives=[list(o) for o in attrs.get("objectives") or []],
        top=[_row(t) for t in ranked[:top_k]],
        attrs=attrs,
    )


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


__all__ = [
    "COMPLETED",
    "DUPLICATE",
    "FAILED",
    "PRUNED",
    "QUEUED",
    "RUNNING",
    "SEARCH_FAILED",
    "SEARCH_FINISHED",
    "SEARCH_RUNNING",
    "SEARCH_STOPPED",
    "STOPPED",
    "Summary",
    "controller_gone",
    "default_storage",
    "finish_trial",
    "latest_study_of",
    "launched",
    "load",
    "mark_controller",
    "new_study_name",
    "open_storage",
    "request_stop",
    "study_names",
    "summarize",
    "trial_state",
]
