"""Resume: bring a study in line with ClearML before a controller launches anything.

The study is the search's memory, ClearML's tasks the truth about what ran. For each trial the
study holds as running and no live controller claims (under the study's lock, so two controllers
never adopt one trial): a trial with a live task is re-attached (a draft that was never enqueued
is enqueued now), one whose task is gone is failed, one that never got a task (its controller died
between asking and enqueuing) is discarded. Completed trials stay as they are, and every
configuration that ran is remembered so it is not run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from hpo.search import _trials
from hpo.search._ledger import ActiveTrial, TrialLedger
from hpo.search._plan import SearchPlan
from hpo.search._sampling import as_override
from hpo.search._watch import TrialWatch
from hpo.study import TrialAttr, TrialLabel, launched, owner_alive, study_lock

log = logging.getLogger(__name__)


def reconcile(
    plan: SearchPlan, ledger: TrialLedger, watch: TrialWatch, owner: str, discard: Callable[[int], None]
) -> None:
    """Adopt the study's orphaned running trials into ``ledger`` as controller ``owner``.

    Args:
        plan: The search.
        ledger: Gets the re-attached trials and the configurations that ran.
        watch: Records the trials that cannot go on.
        owner: This controller (it claims the trials it adopts).
        discard: Deletes the draft of a trial that was never launched, and fails the trial.
    """
    from clearml.automation.job import RunningJob

    study, storage = plan.study, plan.storage
    with study_lock(storage, plan.study_name):
        study_id = storage.get_study_id_from_name(plan.study_name)
        pending = []
        trials = study.get_trials(deepcopy=False)
        ledger.remember(trials)
        for frozen in trials:
            if frozen.state != TrialState.RUNNING:
                continue
            if owner_alive(study.user_attrs, frozen.user_attrs.get(TrialAttr.CLAIMED_BY)):
                continue  # another controller's
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
            storage.set_trial_user_attr(trial_id, TrialAttr.CLAIMED_BY, owner)
            pending.append(frozen)
        states = _trials.fetch_states([str(t.user_attrs[TrialAttr.TASK_ID]) for t in pending if launched(t)])
        for frozen in pending:
            task_id = str(frozen.user_attrs.get(TrialAttr.TASK_ID) or "")
            if not task_id:
                discard(frozen.number)
                continue
            state = states.get(task_id)
            if state is None:
                attrs = {TrialAttr.STATE: TrialLabel.FAILED, TrialAttr.ERROR: "task deleted"}
                watch.tell(frozen.number, TrialState.FAIL, attrs)
                continue
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
            job = RunningJob(existing_task=task_id)
            queue = str(frozen.user_attrs.get(TrialAttr.QUEUE) or "")
            active = ActiveTrial(optuna.trial.Trial(study, trial_id), dict(frozen.params), job, queue)
            active.attempt = int(frozen.user_attrs.get(TrialAttr.ATTEMPTS) or 1)
            active.reported_steps = set(frozen.intermediate_values)
            ledger.attach(frozen.number, active, as_override({**plan.space.fixed, **frozen.params}))
            if state.status == "created":  # cloned but never enqueued: it never ran, so run it now
                job.launch(active.queue or plan.queues[0])
            log.info("re-attached trial %d (task %s, %s)", frozen.number, task_id, state.status)


__all__ = ["reconcile"]
