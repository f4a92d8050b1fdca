"""The controller record of a study: who drives it, whether it is alive, a stop request, outcomes.

A controller (``hpo search``) writes its pid and host and a heartbeat every 10 s while the study's
``state`` is ``running``; anyone may then ask it to stop through the ``stop_requested`` attribute,
which it checks every poll. A study that says ``running`` after its controller died is
``interrupted``: see :func:`controller_gone`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo._processes import pid_alive
from hpo.study._keys import SearchState, StudyAttr, TrialAttr, TrialLabel
from hpo.study._lookup import StorageLike, load

HEARTBEAT_STALE_S = 60.0  # a running controller writes its heartbeat every 10 s


def mark_controller(study: optuna.Study) -> None:
    """Record that this process now drives the study."""
    study.set_user_attr(StudyAttr.CONTROLLER, {"pid": os.getpid(), "host": socket.gethostname()})
    study.set_user_attr(StudyAttr.STATE, SearchState.RUNNING)
    study.set_user_attr(StudyAttr.STOP_REQUESTED, False)
    study.set_user_attr(StudyAttr.HEARTBEAT, time.time())


def request_stop(storage: StorageLike, name: str) -> dict[str, Any]:
    """Ask the controller of study ``name`` to stop (it checks every poll); returns the study's attrs.

    Raises:
        NotFoundError: No such study.
    """
    study = load(name, storage)
    study.set_user_attr(StudyAttr.STOP_REQUESTED, True)
    return dict(study.user_attrs)


def controller_gone(attrs: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the controller of a study that says it is running has died: its process is gone
    (same host), or it has not written its heartbeat for :data:`HEARTBEAT_STALE_S` (any host),
    and no other controller sharing the study (its ``controller:<owner>`` record) still runs."""
    if attrs.get(StudyAttr.STATE) != SearchState.RUNNING or not _process_gone(attrs, now):
        return False
    sharing = [r for k, r in attrs.items() if k.startswith(StudyAttr.CONTROLLER_RECORD) and isinstance(r, Mapping)]
    return not any(r.get(StudyAttr.STATE) == SearchState.RUNNING and not _process_gone(r, now) for r in sharing)


def _process_gone(attrs: Mapping[str, Any], now: float | None) -> bool:
    controller = attrs.get(StudyAttr.CONTROLLER) or {}
    if controller.get("host") == socket.gethostname() and controller.get("pid"):
        return not pid_alive(int(controller["pid"]))
    return (now or time.time()) - float(attrs.get(StudyAttr.HEARTBEAT) or 0) > HEARTBEAT_STALE_S


def search_state(attrs: Mapping[str, Any]) -> str:
    """The study's :class:`SearchState` word, ``interrupted`` when its controller died."""
    if controller_gone(attrs):
        return SearchState.INTERRUPTED
    return str(attrs.get(StudyAttr.STATE) or "unknown")


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
    return bool(trial.user_attrs.get(TrialAttr.TASK_ID))


def trial_label(trial: FrozenTrial) -> str:
    """The trial's :class:`TrialLabel` (from Optuna's state for trials the controller never labelled)."""
    label = trial.user_attrs.get(TrialAttr.STATE)
    if label:
        return str(label)
    by_optuna = {TrialState.COMPLETE: TrialLabel.COMPLETED, TrialState.PRUNED: TrialLabel.PRUNED}
    return by_optuna.get(trial.state, TrialLabel.FAILED if trial.state == TrialState.FAIL else TrialLabel.QUEUED)


__all__ = [
    "HEARTBEAT_STALE_S",
    "controller_gone",
    "finish_trial",
    "launched",
    "mark_controller",
    "request_stop",
    "search_state",
    "trial_label",
]
