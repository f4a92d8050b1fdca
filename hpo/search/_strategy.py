"""Our Optuna search strategy, driven by ClearML's ``HyperParameterOptimizer``.

``HyperParameterOptimizer`` runs :meth:`OptunaStrategy.start` in its thread and reports on the
jobs it exposes (``get_running_jobs``, ``get_created_jobs_*``), so the optimizer task looks in
ClearML's web UI as users expect. Unlike ClearML's stock ``OptimizerOptuna``, this strategy:

- keeps the study in persistent storage and resumes it (see :meth:`reconcile`);
- polls every ``poll_s`` seconds with ONE batched status query for all active trials; the
  objective series of a trial is read only when its last iteration or objective value moved;
- feeds the pruner the (iteration, value) points the trial reported, and tells Optuna pruned or
  failed for pruned, truncated and failed trials, never complete;
- skips duplicate configurations without spending budget; retries failed trials;
- shares the study with other controllers (other machines): each trial's budget is claimed
  atomically in the study storage (:func:`hpo.study.claim_trial`), so together they never exceed it;
- on stop dequeues queued trials and aborts running ones before it returns.

Threading: everything here runs in the optimizer's thread, except :meth:`request_stop` and
:meth:`stop` (any thread) which only set events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from clearml.automation.job import RunningJob
from clearml.automation.optimization import SearchStrategy
from optuna.trial import TrialState

from hpo import task_status
from hpo.search import _converge, _routing, _trials
from hpo.search._sampling import as_override, config_key, suggest
from hpo.search._space import SearchSpace
from hpo.study import (
    StudyAttr,
    TrialAttr,
    TrialLabel,
    claim_trial,
    finish_trial,
    launched,
    new_owner,
    owner_alive,
    study_lock,
    write_controller_record,
)
from hpo.templates import without_template_tags

log = logging.getLogger(__name__)

MAX_DUPLICATES_IN_A_ROW = 50  # a space this exhausted has nothing new to offer
MAX_LAUNCH_FAILURES_IN_A_ROW = 5
PROGRESS_EVERY_S = 2.0  # a running trial's progress attribute is rewritten at most this often
HEARTBEAT_S = 10.0  # well inside hpo.study.HEARTBEAT_STALE_S


@dataclass
class ActiveTrial:
    """A launched trial the strategy still watches."""

    trial: optuna.Trial
    params: dict[str, Any]
    job: Any  # ClearmlJob, or RunningJob when re-attached
    queue: str
    attempt: int = 1
    seen_marker: tuple[int, float | None] | None = None
    reported_steps: set[int] = field(default_factory=set)
    progress_marker: tuple[int, float | None] | None = None  # what its progress attribute says
    progress_at: float = 0.0

    @property
    def task_id(self) -> str:
        return str(self.job.task_id())


class SearchAborted(Exception):
    """The search cannot go on (the server keeps failing, every launch fails)."""


class OptunaStrategy(SearchStrategy):
    """A ``SearchStrategy`` that asks a persistent Optuna study what to run next."""

    def __init__(
        self,
        *,
        base_task_id: str,
        hyper_parameters: Sequence[Any],
        objective_metric: Any,
        space: SearchSpace,
        study: optuna.Study,
        storage: optuna.storages.BaseStorage,
        queues: Sequence[str],
        budget: int,
        concurrency: int,
        retries: int = 0,
        poll_s: float = 0.5,
        deadline: float | None = None,
        converge: _converge.ConvergeRule | None = None,
    ) -> None:
        super().__init__(
            base_task_id=base_task_id,
            hyper_parameters=hyper_parameters,
            objective_metric=objective_metric,
            execution_queue=queues[0],
            num_concurrent_workers=concurrency,
            pool_period_min=poll_s / 60.0,
            total_max_jobs=budget,
        )
        self.space = space
        self.study = study
        self.storage = storage
        self.queues = list(queues)
        self.max_trials = budget if space.sampler.name != "grid" else min(budget, _grid_size(space))
        self.concurrency = concurrency
        self.retries = retries
        self.poll_s = poll_s
        self.deadline = deadline
        self.stop_reason: str | None = None
        self.converge = converge
        self.end_reason: str | None = None  # a normal end before the budget (converged): trials in flight finish
        self.error: str | None = None
        self.finished = threading.Event()
        self._stop_requested = threading.Event()
        self._active: dict[int, ActiveTrial] = {}
        self._jobs: dict[str, tuple[Any, dict[str, str]]] = {}
        self._seen: dict[str, int] = {}  # config key -> trial number that ran it
        self._launched = 0  # by this controller (ClearML's budget report); the shared count is in the study
        self._budget_full = False
        self.owner = new_owner()
        self._last_beat = time.monotonic()
        self._started = time.time()
        self._duplicates_in_a_row = 0
        self._launch_failures = 0
        self._naming_number = 0
        self._study_id = storage.get_study_id_from_name(study.study_name)
        self.set_job_naming_scheme(self._job_name)

    # ---- what HyperParameterOptimizer reads -------------------------------------------------
    def get_running_jobs(self) -> Sequence[Any]:
        return [active.job for active in self._active.values()]

    def get_created_jobs_ids(self) -> Mapping[str, dict[str, str]]:
        return {task_id: params for task_id, (_, params) in self._jobs.items()}

    def get_created_jobs_tasks(self) -> Mapping[str, Any]:
        return {task_id: job for task_id, (job, _) in self._jobs.items()}

    def stop(self) -> None:
        """Called by ``HyperParameterOptimizer.stop``: leave :meth:`start` (after cleaning up)."""
        if not self.finished.is_set():
            self.request_stop("stopped")
        self._stop_event.set()

    def request_stop(self, reason: str) -> None:
        """Stop launching, abort active trials and finish (any thread)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop_requested.set()

    # ---- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the search until the budget is spent or a stop is requested, then wait for :meth:`stop`."""
        try:
            write_controller_record(self.study, self.owner, self._started)
            self.reconcile()
            self._loop()
        except SearchAborted as err:
            self.error = str(err)
            log.error("search aborted: %s", err)
        finally:
            if self._active:
                self._abort_active()
            self._retire()
            self.finished.set()
        # HyperParameterOptimizer treats the end of start() as the end of the search; wait for its stop()
        # so that its reporter makes a last report instead of sleeping out its period.
        self._stop_event.wait()

    def _loop(self) -> None:
        failures_since = None
        last_check = 0.0
        while not self._stop_requested.is_set():
            try:
                self._poll()
                if time.monotonic() - last_check > 1.0:
                    last_check = time.monotonic()
                    self._check_external_stop()
                if not self._stop_requested.is_set():
                    self._launch()
                failures_since = None
            except SearchAborted:
                raise
            except Exception as err:  # the server hiccuped: retry, but not forever
                failures_since = failures_since or time.monotonic()
                log.warning("poll failed (%s); retrying", err, exc_info=log.isEnabledFor(logging.DEBUG))
                if time.monotonic() - failures_since > 60:
                    raise SearchAborted(f"the ClearML server kept failing for 60 s: {err}") from err
            if not self._active and (self._budget_full or self.stop_reason):
                return
            self._stop_requested.wait(self.poll_s)

    def _check_external_stop(self) -> None:
        if self.deadline is not None and time.time() >= self.deadline:
            self.request_stop("time limit")
            return
        attrs = self.study.user_attrs
        if attrs.get(StudyAttr.STOP_REQUESTED):
            self.request_stop("stop requested")
            return
        if time.time() - float(attrs.get(StudyAttr.HEARTBEAT) or 0) > HEARTBEAT_S:
            self.study.set_user_attr(StudyAttr.HEARTBEAT, time.time())
        if time.monotonic() - self._last_beat > HEARTBEAT_S:  # this controller's own, whoever wrote the above
            self._last_beat = time.monotonic()
            write_controller_record(self.study, self.owner, self._started)

    def _retire(self) -> None:
        try:
            write_controller_record(self.study, self.owner, self._started, ended=True)
        except Exception as err:  # others then take this controller for dead by its heartbeat
            log.warning("cannot record the end of controller %s: %s", self.owner, err)

    # ---- resume -----------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Bring the study in line with ClearML: completed trials stay, live tasks are re-attached,
        dead ones are failed, drafts are enqueued again, never-launched trials are failed. Trials
        of another controller that still runs are left to it."""
        with study_lock(self.storage, self.study.study_name):  # two controllers never adopt one trial
            self._reconcile()

    def _reconcile(self) -> None:
        study_attrs = self.study.user_attrs
        pending = []
        trials = self.study.get_trials(deepcopy=False)
        self._remember(trials)
        for frozen in trials:
            if frozen.state != TrialState.RUNNING:
                continue
            if owner_alive(study_attrs, frozen.user_attrs.get(TrialAttr.CLAIMED_BY)):
                continue  # another controller's
            self.storage.set_trial_user_attr(self._trial_id(frozen.number), TrialAttr.CLAIMED_BY, self.owner)
            pending.append(frozen)
        states = _trials.fetch_states([str(t.user_attrs[TrialAttr.TASK_ID]) for t in pending if launched(t)])
        for frozen in pending:
            task_id = str(frozen.user_attrs.get(TrialAttr.TASK_ID) or "")
            if not task_id:
                self._discard_unlaunched(frozen.number)
                continue
            state = states.get(task_id)
            if state is None:
                self._tell(
                    frozen.number,
                    TrialState.FAIL,
                    {TrialAttr.STATE: TrialLabel.FAILED, TrialAttr.ERROR: "task deleted"},
                )
                continue
            trial = optuna.trial.Trial(self.study, self._trial_id(frozen.number))
            job = RunningJob(existing_task=task_id)
            active = ActiveTrial(trial, dict(frozen.params), job, str(frozen.user_attrs.get(TrialAttr.QUEUE) or ""))
            active.attempt = int(frozen.user_attrs.get(TrialAttr.ATTEMPTS) or 1)
            active.reported_steps = set(frozen.intermediate_values)
            self._active[frozen.number] = active
            self._jobs[task_id] = (job, as_override({**self.space.fixed, **frozen.params}))
            if state.status == "created":  # cloned but never enqueued: it never ran, so run it now
                job.launch(active.queue or self.queues[0])
            log.info("re-attached trial %d (task %s, %s)", frozen.number, task_id, state.status)

    def _remember(self, trials: Sequence[optuna.trial.FrozenTrial]) -> None:
        """Note the configurations of ``trials`` that ran or run, so repeats of them are not run again."""
        for frozen in trials:
            counted = launched(frozen) and frozen.user_attrs.get(TrialAttr.STATE) != TrialLabel.DUPLICATE
            if (counted or frozen.state == TrialState.COMPLETE) and frozen.params:
                self._seen.setdefault(config_key(frozen.params), frozen.number)

    def _discard_unlaunched(self, number: int) -> None:
        """A trial the last controller asked for but never enqueued: delete the draft it may have
        cloned already (found by its name) and fail the trial; the budget never counted it."""
        name = _trials.task_name(self._base_task_name, self.study.study_name, number)  # set by SearchStrategy
        _trials.delete_drafts(name, self._job_parent_id or self._base_task_id)  # helper_create_job's parent
        self._tell(number, TrialState.FAIL, {TrialAttr.STATE: TrialLabel.FAILED, TrialAttr.ERROR: "never launched"})

    def _trial_id(self, number: int) -> int:
        return int(self.storage.get_trial_id_from_study_id_trial_number(self._study_id, number))

    # ---- polling ----------------------------------------------------------------------------
    def _poll(self) -> None:
        if not self._active:
            return
        states = _trials.fetch_states([a.task_id for a in self._active.values()])
        for number, active in list(self._active.items()):
            try:
                self._update(number, active, states.get(active.task_id))
            except Exception as err:  # one trial's trouble never ends the search
                log.warning("trial %d (task %s) failed in the controller: %s", number, active.task_id, err)
                self._finish(number, TrialState.FAIL, TrialLabel.FAILED, error=f"controller: {err}")

    def _update(self, number: int, active: ActiveTrial, state: _trials.TaskState | None) -> None:
        if state is None:
            self._finish(number, TrialState.FAIL, TrialLabel.FAILED, error="task deleted")
            return
        if state.status == "in_progress" and active.trial.user_attrs.get(TrialAttr.STATE) != TrialLabel.RUNNING:
            active.trial.set_user_attr(TrialAttr.STATE, TrialLabel.RUNNING)
        # (iteration, last objective value): a first point at iteration 0 moves the value, not the iteration
        objective = self.space.objective
        marker = (state.last_iteration, state.last_value(objective.title, objective.series))
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
            truncated = bool(active.reported_steps)
            self._finish(
                number,
                TrialState.PRUNED if truncated else TrialState.FAIL,
                TrialLabel.STOPPED,
                error=state.reason or state.message or "stopped",
            )

    def _record_progress(self, active: ActiveTrial, marker: tuple[int, float | None]) -> None:
        """Write how far a running trial got, for ``hpo status`` and the live view (throttled)."""
        if marker == active.progress_marker or time.monotonic() - active.progress_at < PROGRESS_EVERY_S:
            return
        active.progress_marker, active.progress_at = marker, time.monotonic()
        active.trial.set_user_attr(TrialAttr.PROGRESS, {"iteration": marker[0], "value": marker[1]})

    def _report_intermediate(self, number: int, active: ActiveTrial) -> bool:
        """Feed new reported points to the pruner; True when the trial was pruned."""
        if len(self.space.objectives) != 1:
            return False
        objective = self.space.objective
        task = getattr(active.job, "task", None)
        if task is None:
            return False
        # One point at a time, asking the pruner after each: a poll that finds several new points decides
        # as if each had been seen when reported (ASHA's rungs and the median compare at that step).
        points = sorted(_trials.reported_points(task, objective.title, objective.series))
        for step, value in points:
            if step in active.reported_steps:
                continue
            active.trial.report(value, step)
            active.reported_steps.add(step)
            if active.trial.should_prune():
                log.info("pruning trial %d at iteration %d (it reached %d)", number, step, points[-1][0])
                self._abort([active])
                self._finish(number, TrialState.PRUNED, TrialLabel.PRUNED)
                return True
        return False

    def _complete(self, number: int, active: ActiveTrial, state: _trials.TaskState) -> None:
        values = [state.last_value(o.title, o.series) for o in self.space.objectives]
        if any(v is None for v in values):
            names = ", ".join(f"{o.title}/{o.series}" for o in self.space.objectives)
            self._finish(number, TrialState.FAIL, TrialLabel.FAILED, error=f"completed without reporting {names}")
            return
        try:
            model_id = _trials.output_model_id(active.job.task)
        except Exception as err:  # the model link is informative; the result stands without it
            log.warning("cannot read the output model of task %s: %s", active.task_id, err)
            model_id = None
        if model_id:
            active.trial.set_user_attr(TrialAttr.MODEL_ID, model_id)
        objective = self.space.objective
        se = state.last_value(objective.title, f"{objective.series}_se")
        _converge.record_noise(active.trial, active.job.task, objective, se, folds=self.converge is not None)
        self._finish(
            number, TrialState.COMPLETE, TrialLabel.COMPLETED, values=[float(v) for v in values if v is not None]
        )
        self._check_converged()

    def _check_converged(self) -> None:
        """``--stop-when converged``: once the rule holds, launch nothing more (trials in flight finish)."""
        if self.converge is None or self.end_reason is not None:
            return
        try:
            verdict = _converge.evaluate(self.study.get_trials(deepcopy=False), self.study.direction, self.converge)
        except Exception as err:  # e.g. no parameter common to all trials: the search goes on to its budget
            log.warning("cannot evaluate convergence (%s); the search runs on", err)
            return
        self.study.set_user_attr(StudyAttr.CONVERGENCE, verdict.as_attr())
        if verdict.regret is None:
            return
        log.info("convergence: regret bound %.4g, noise %.4g (%s)", verdict.regret, verdict.noise, verdict.noise_source)
        if verdict.converged:
            self.end_reason = verdict.reason
            self.max_trials = self._launched
            log.info("%s; noise: %s", verdict.reason, verdict.noise_source)

    def _failed(self, number: int, active: ActiveTrial, state: _trials.TaskState) -> None:
        error = state.reason or state.message or "failed"
        if active.attempt <= self.retries and not self._stop_requested.is_set():
            failed = [*active.trial.user_attrs.get(TrialAttr.FAILED_TASK_IDS, []), active.task_id]
            active.trial.set_user_attr(TrialAttr.FAILED_TASK_IDS, failed)
            log.info("trial %d failed (%s); retry %d of %d", number, error, active.attempt, self.retries)
            del self._active[number]
            self._launch_trial(active.trial, active.params, active.queue, attempt=active.attempt + 1)
            return
        self._finish(number, TrialState.FAIL, TrialLabel.FAILED, error=error)

    def _finish(
        self, number: int, state: TrialState, label: str, values: list[float] | None = None, error: str | None = None
    ) -> None:
        self._active.pop(number, None)
        attrs: dict[str, Any] = {TrialAttr.STATE: label}
        if error:
            attrs[TrialAttr.ERROR] = error[:500]
        self._tell(number, state, attrs, values)

    def _tell(
        self, number: int, state: TrialState, attrs: Mapping[str, Any], values: list[float] | None = None
    ) -> None:
        finish_trial(self.storage, self.study, number, state, attrs, values)

    # ---- launching --------------------------------------------------------------------------
    def _launch(self) -> None:
        free = self.concurrency - len(self._active)
        if free <= 0 or self._budget_full:
            return
        queues = self._route(free)
        for queue in queues:
            if self._stop_requested.is_set():
                return
            trial, trials = claim_trial(self.study, self.storage, self.owner, self.max_trials)
            self._remember(trials)  # what other controllers ran meanwhile
            if trial is None:
                self._budget_full = True
                return
            params = suggest(trial, self.space)
            if self._is_duplicate(trial, params):
                continue
            self._launch_trial(trial, params, queue, attempt=1)

    def _route(self, count: int) -> list[str]:
        if len(self.queues) == 1:
            return self.queues * count
        return _routing.assign(_routing.queue_loads(self.queues), count)

    def _is_duplicate(self, trial: optuna.Trial, params: dict[str, Any]) -> bool:
        """Tell Optuna a repeated configuration's known outcome instead of running it again."""
        key = config_key(params)
        original = self._seen.get(key)
        if original is None:
            self._duplicates_in_a_row = 0
            self._seen[key] = trial.number
            return False
        self._duplicates_in_a_row += 1
        if self._duplicates_in_a_row >= MAX_DUPLICATES_IN_A_ROW:
            self.request_stop("search space exhausted")
        earlier = self.study.get_trials(deepcopy=False)[original]
        attrs = {TrialAttr.STATE: TrialLabel.DUPLICATE, TrialAttr.DUPLICATE_OF: original}
        if earlier.state == TrialState.COMPLETE:
            self._tell(trial.number, TrialState.COMPLETE, attrs, list(earlier.values))
        else:  # still running, or it failed: nothing to learn from the repeat
            self._tell(trial.number, TrialState.FAIL, attrs)
        log.info("trial %d repeats trial %d; not run", trial.number, original)
        return True

    def _launch_trial(self, trial: optuna.Trial, params: dict[str, Any], queue: str, attempt: int) -> None:
        self._naming_number = trial.number
        try:
            override = as_override({**self.space.fixed, **params})
            job = self.helper_create_job(
                self._base_task_id,
                parameter_override=override,
                tags=[f"study:{self.study.study_name}", f"trial:{trial.number}"],
            )
            # The clone came with the template's tags: a trial must never be found as a template.
            clone = job.task
            assert clone is not None, "ClearmlJob clones the template (caching and clone skipping are off)"
            clone.set_tags(without_template_tags(clone.get_tags()))
            trial.set_user_attr(TrialAttr.TASK_ID, job.task_id())
            trial.set_user_attr(TrialAttr.QUEUE, queue)
            trial.set_user_attr(TrialAttr.ATTEMPTS, attempt)
            trial.set_user_attr(TrialAttr.STATE, TrialLabel.QUEUED)
            if attempt == 1:
                self._launched += 1
                self.budget.jobs.update(job.task_id(), 1)  # ClearML's own budget report on the optimizer task
            self._jobs[job.task_id()] = (job, override)
            self._active[trial.number] = ActiveTrial(trial, params, job, queue, attempt)
            if not job.launch(queue):
                raise RuntimeError(f"cannot enqueue task {job.task_id()} on queue {queue!r}")
            self._launch_failures = 0
        except Exception as err:  # a trial that cannot be launched is failed; the search goes on
            self._launch_failures += 1
            log.warning("launching trial %d failed: %s", trial.number, err)
            self._finish(trial.number, TrialState.FAIL, TrialLabel.FAILED, error=f"launch: {err}")
            if self._launch_failures >= MAX_LAUNCH_FAILURES_IN_A_ROW:
                raise SearchAborted(f"{self._launch_failures} launches in a row failed, the last with: {err}") from err

    def _job_name(self, base_name: str, override: Mapping[str, str]) -> str:
        return _trials.task_name(base_name, self.study.study_name, self._naming_number)

    # ---- stopping ---------------------------------------------------------------------------
    def _abort_active(self) -> None:
        """Dequeue queued trials, abort running ones, and tell Optuna (pruned if truncated, else failed)."""
        actives = list(self._active.items())
        self._abort([a for _, a in actives])
        for number, active in actives:
            truncated = bool(active.reported_steps)
            self._finish(
                number, TrialState.PRUNED if truncated else TrialState.FAIL, TrialLabel.STOPPED, error=self.stop_reason
            )

    def _abort(self, actives: Sequence[ActiveTrial]) -> None:
        """Stop these trials' tasks on the server and wait until none is queued or running."""
        _trials.abort([a.task_id for a in actives])


def _grid_size(space: SearchSpace) -> int:
    size = 1
    for param in space.params:
        size *= len(param.grid_values())
    return size


__all__ = ["ActiveTrial", "OptunaStrategy", "SearchAborted"]
