"""Stop a search whose controller died: ``hpo stop`` does the controller's cleanup itself.

A killed controller (SIGKILL, a lost machine) leaves its trials' tasks queued or running and the
study saying "running". ``hpo search --resume`` carries such a search on; this module ends it
instead: it aborts what is queued or running, fails trials that never got a task (deleting the
draft their controller may have cloned), closes the optimizer task, stops the search's local
agents (``--local-workers``, when they run on this host) and marks the study stopped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from hpo import task_status
from hpo.agents import stop as stop_agents
from hpo.search import _trials
from hpo.search._controller import local_agents_home
from hpo.study import SearchState, StudyAttr, TrialAttr, TrialLabel, finish_trial, interrupt_trial, launched, load

log = logging.getLogger(__name__)

REASON = "stopped after its controller died"


@dataclass(frozen=True)
class Cleanup:
    """What :func:`stop_dead_search` ended."""

    aborted: int  # trials whose tasks were queued or running
    discarded: int  # trials that never got a task
    agents: int  # its local agents (``--local-workers``) stopped


def stop_dead_search(storage: optuna.storages.BaseStorage, name: str) -> Cleanup:
    """End study ``name`` for its dead controller (the ClearML connection must be set up).

    Raises:
        NotFoundError: No such study.
    """
    study = load(name, storage)
    attrs = dict(study.user_attrs)
    running = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    attached = [t for t in running if launched(t)]
    _trials.abort([str(t.user_attrs[TrialAttr.TASK_ID]) for t in attached])
    for trial in attached:  # stopped by the search, not for their results: not spent (a resume reruns them)
        interrupt_trial(storage, study, trial.number, REASON)
    unlaunched = [t for t in running if not launched(t)]
    if unlaunched:
        base_name, parent = _draft_lookup(attrs)
        for trial in unlaunched:
            if base_name:
                _trials.delete_drafts(_trials.task_name(base_name, name, trial.number), parent)
            finish_trial(
                storage,
                study,
                trial.number,
                TrialState.FAIL,
                {TrialAttr.STATE: TrialLabel.FAILED, TrialAttr.ERROR: "never launched"},
            )
    _close_optimizer_task(attrs.get(StudyAttr.OPTIMIZER_TASK_ID))
    stopped = stop_agents(home=local_agents_home(name), timeout=10)  # its --local-workers, if on this host
    study.set_user_attr(StudyAttr.STATE, SearchState.STOPPED)
    study.set_user_attr(StudyAttr.STOP_REASON, REASON)
    study.set_user_attr(StudyAttr.ENDED, time.time())
    return Cleanup(aborted=len(attached), discarded=len(unlaunched), agents=len(stopped))


def _draft_lookup(attrs: dict[str, Any]) -> tuple[str | None, str]:
    """The template's name and the parent its trial clones get (the optimizer task, else the template)."""
    from clearml import Task

    template_id = str(attrs.get(StudyAttr.TEMPLATE_ID) or "")
    parent = str(attrs.get(StudyAttr.OPTIMIZER_TASK_ID) or template_id)
    try:
        return str(Task.get_task(task_id=template_id).name), parent
    except Exception as err:  # the template is gone: its drafts cannot be told apart
        log.warning("cannot read template %s (%s); drafts of unlaunched trials are left", template_id, err)
        return None, parent


def _close_optimizer_task(task_id: Any) -> None:
    from clearml import Task

    if not task_id:
        return
    states = _trials.fetch_states([str(task_id)])
    if str(task_id) in states and states[str(task_id)].status in task_status.LIVE:
        try:
            Task.get_task(task_id=str(task_id)).mark_stopped(force=True, status_message=REASON)
        except Exception as err:  # the study is what matters; the task is informative
            log.warning("cannot stop optimizer task %s: %s", task_id, err)


__all__ = ["Cleanup", "stop_dead_search"]
