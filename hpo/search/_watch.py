"""What the trials' tasks did, told to Optuna: progress, pruning, completion, failure, retries.

Each poll reads the state of every active trial with ONE batched query (:mod:`hpo.search._trials`);
the objective series of a trial is read only when its last iteration or objective value moved.
The pruner gets the (iteration, value) points the trial reported, one at a time; a pruned trial
records why (the pruner, the step, its value and the threshold it missed: ``pruned_at`` in the
study, a ``pruned_reason`` property and the status message on its task). Pruned,
truncated and failed trials are told to Optuna as pruned or failed, never complete. Launching
and aborting are the strategy's: the watch calls back for them.

Threading: the optimizer's thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from optuna.study import StudyDirection
from optuna.trial import TrialState

from hpo import task_status
from hpo.analysis._prune import PRUNER_CLASSES, PruneReason, explain
from hpo.search import _converge, _trials
from hpo.search._ledger import ActiveTrial, TrialLedger
from hpo.search._plan import SearchPlan
from hpo.study import StudyAttr, TrialAttr, TrialLabel, finish_trial

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 2.0  # a running trial's progress attribute is rewritten at most this often

AbortFn = Callable[[Sequence[ActiveTrial]], None]
RetryFn = Callable[[ActiveTrial], None]


class TrialWatch:
    """Polls the active trials of a ledger and records their outcomes in the study.

    Args:
        plan: The search (its space's objectives, its study, its convergence rule).
        ledger: The trials to watch; finished ones leave it.
        abort: Stops trials' tasks on the server (a pruned trial).
        retry: Launches a failed trial again (its next attempt).
        stopping: Whether the search is stopping (then nothing is retried).
    """

    def __init__(
        self, plan: SearchPlan, ledger: TrialLedger, abort: AbortFn, retry: RetryFn, stopping: Callable[[], bool]
    ) -> None:
        self.plan = plan
        self.ledger = ledger
        self.end_reason: str | None = None  # a normal end before the budget (converged)
        self._abort = abort
        self._retry = retry
        self._stopping = stopping

    def poll(self) -> None:
        """One batched status query for all active trials, then each trial's update."""
        if not self.ledger.active:
            return
        states = _trials.fetch_states([a.task_id for a in self.ledger.active.values()])
        for number, active in list(self.ledger.active.items()):
            try:
                self.update(number, active, states.get(active.task_id))
            except Exception as err:  # one trial's trouble never ends the search
                log.warning("trial %d (task %s) failed in the controller: %s", number, active.task_id, err)
                self.finish(number, TrialState.FAIL, TrialLabel.FAILED, error=f"controller: {err}")

    def update(self, number: int, active: ActiveTrial, state: _trials.TaskState | None) -> None:
        """Act on what the task of trial ``number`` did since the last poll."""
        if state is None:
            self.finish(number, TrialState.FAIL, TrialLabel.FAILED, error="task deleted")
            return
        if state.status == "in_progress" and active.trial.user_attrs.get(TrialAttr.STATE) != TrialLabel.RUNNING:
            active.trial.set_user_attr(TrialAttr.STATE, TrialLabel.RUNNING)
        # (iteration, last objective value): a first point at iteration 0 moves the value, not the iteration
        objective = self.plan.space.objective
        marker = (state.last_iteration, state.objective_value(objective))
        if state.status == "in_progress":
            self._record_progress(active, marker)
        if marker != active.seen_marker and state.status in ("in_progress", *task_status.ENDED):
            active.seen_marker = marker
            if self._report_intermediate(number, active):
                return
        if state.status not in task_status.ENDED:
            return
        if state.status in task_status.SUCCEEDED:
            self._complete(number, active, state)
        elif state.status in task_status.FAILED:
            self._failed(number, active, state)
        else:  # ABORTED: stopped (or closed) by someone else, or by the server because its agent died
            self.finish(
                number,
                TrialState.PRUNED if active.truncated else TrialState.FAIL,
                TrialLabel.STOPPED,
                error=state.reason or state.message or "stopped",
            )

    def finish(
        self,
        number: int,
        state: TrialState,
        label: str,
        values: list[float] | None = None,
        error: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Trial ``number`` is over: leave the ledger, tell Optuna ``state`` with its label (error, ``attrs``)."""
        self.ledger.finish(number)
        merged: dict[str, Any] = {**(attrs or {}), TrialAttr.STATE: label}
        if error:
            merged[TrialAttr.ERROR] = error[:500]
        self.tell(number, state, merged, values)

    def tell(self, number: int, state: TrialState, attrs: Mapping[str, Any], values: list[float] | None = None) -> None:
        """Record trial ``number``'s end in the study (attributes first, then its state)."""
        finish_trial(self.plan.storage, self.plan.study, number, state, attrs, values)

    def _record_progress(self, active: ActiveTrial, marker: tuple[int, float | None]) -> None:
        """Write how far a running trial got, for ``hpo status`` and the live view (throttled)."""
        if marker == active.progress_marker or time.monotonic() - active.progress_at < PROGRESS_EVERY_S:
            return
        active.progress_marker, active.progress_at = marker, time.monotonic()
        active.trial.set_user_attr(TrialAttr.PROGRESS, {"iteration": marker[0], "value": marker[1]})

    def _report_intermediate(self, number: int, active: ActiveTrial) -> bool:
        """Feed new reported points to the pruner; True when the trial was pruned."""
        if len(self.plan.space.objectives) != 1:
            return False
        objective = self.plan.space.objective
        task = getattr(active.job, "task", None)
        if task is None:
            return False
        # One point at a time, asking the pruner after each: a poll that finds several new points decides
        # as if each had been seen when reported (ASHA's rungs and the median compare at that step).
        reported = _trials.reported_points(task, objective.title, objective.series)
        points = _trials.objective_points(reported, objective.value)  # min/max: the running best
        for step, value in points:
            if step in active.reported_steps:
                continue
            active.trial.report(value, step)
            active.reported_steps.add(step)
            if active.trial.should_prune():
                log.info("pruning trial %d at iteration %d (it reached %d)", number, step, points[-1][0])
                reason = self._prune_reason(number, step, value)
                self._abort([active])
                self._mark_pruned(active, reason)
                self.finish(number, TrialState.PRUNED, TrialLabel.PRUNED, attrs={TrialAttr.PRUNED_AT: reason.as_attr()})
                return True
        return False

    def _prune_reason(self, number: int, step: int, value: float) -> PruneReason:
        """Why the pruner stopped trial ``number`` at ``step``: the threshold it missed, from the study as it is."""
        pruner = self.plan.space.pruner
        study = self.plan.study
        try:
            trials = study.get_trials(deepcopy=False)
            [frozen] = [t for t in trials if t.number == number]
            maximize = study.direction == StudyDirection.MAXIMIZE
            return explain(pruner.name, pruner.options, trials, frozen, step, maximize, study.study_name)
        except Exception as err:  # the reason is informative; the prune stands without it
            log.warning("cannot explain the pruning of trial %d: %s", number, err)
            name = PRUNER_CLASSES.get(pruner.name, pruner.name)
            return PruneReason(name, step, value, value, None, f"threshold not computed ({err})")

    def _mark_pruned(self, active: ActiveTrial, reason: PruneReason) -> None:
        """Say why on the pruned trial's task: a ``pruned_reason`` property and its status message."""
        task = getattr(active.job, "task", None)
        if task is None:
            return
        try:
            task.set_user_properties(pruned_reason=reason.text, pruned_step=str(reason.step))
            task.mark_stopped(force=True, status_message=reason.text[:250])  # after the abort: the last word
        except Exception as err:  # the study has the reason either way
            log.warning("cannot record why trial task %s was pruned: %s", active.task_id, err)

    def _complete(self, number: int, active: ActiveTrial, state: _trials.TaskState) -> None:
        objectives = self.plan.space.objectives
        values = [state.objective_value(o) for o in objectives]
        if any(v is None for v in values):
            names = ", ".join(o.name for o in objectives)
            self.finish(number, TrialState.FAIL, TrialLabel.FAILED, error=f"completed without reporting {names}")
            return
        try:
            model_id = _trials.output_model_id(active.job.task)
        except Exception as err:  # the model link is informative; the result stands without it
            log.warning("cannot read the output model of task %s: %s", active.task_id, err)
            model_id = None
        if model_id:
            active.trial.set_user_attr(TrialAttr.MODEL_ID, model_id)
        objective = self.plan.space.objective
        se = state.last_value(objective.title, f"{objective.series}_se")
        _converge.record_noise(active.trial, active.job.task, objective, se, folds=self.plan.converge is not None)
        self.finish(
            number, TrialState.COMPLETE, TrialLabel.COMPLETED, values=[float(v) for v in values if v is not None]
        )
        self._check_converged()

    def _check_converged(self) -> None:
        """``--stop-when converged``: once the rule holds, launch nothing more (trials in flight finish)."""
        rule, study = self.plan.converge, self.plan.study
        if rule is None or self.end_reason is not None:
            return
        try:
            verdict = _converge.evaluate(study.get_trials(deepcopy=False), study.direction, rule)
        except Exception as err:  # e.g. no parameter common to all trials: the search goes on to its budget
            log.warning("cannot evaluate convergence (%s); the search runs on", err)
            return
        study.set_user_attr(StudyAttr.CONVERGENCE, verdict.as_attr())
        if verdict.regret is None:
            return
        log.info("convergence: regret bound %.4g, noise %.4g (%s)", verdict.regret, verdict.noise, verdict.noise_source)
        if verdict.converged:
            self.end_reason = verdict.reason
            self.ledger.close_budget()
            log.info("%s; noise: %s", verdict.reason, verdict.noise_source)

    def _failed(self, number: int, active: ActiveTrial, state: _trials.TaskState) -> None:
        error = state.reason or state.message or "failed"
        retries = self.plan.space.retries
        if active.attempt <= retries and not self._stopping():
            failed = [*active.trial.user_attrs.get(TrialAttr.FAILED_TASK_IDS, []), active.task_id]
            active.trial.set_user_attr(TrialAttr.FAILED_TASK_IDS, failed)
            log.info("trial %d failed (%s); retry %d of %d", number, error, active.attempt, retries)
            self.ledger.finish(number)
            self._retry(active)
            return
        self.finish(number, TrialState.FAIL, TrialLabel.FAILED, error=error)


__all__ = ["PROGRESS_EVERY_S", "TrialWatch"]
