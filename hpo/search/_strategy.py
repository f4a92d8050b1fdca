"""Our Optuna search strategy, driven by ClearML's ``HyperParameterOptimizer``.

``HyperParameterOptimizer`` runs :meth:`OptunaStrategy.start` in its thread and reports on the
jobs it exposes (``get_running_jobs``, ``get_created_jobs_*``), so the optimizer task looks in
ClearML's web UI as users expect. Unlike ClearML's stock ``OptimizerOptuna``, this strategy:

- keeps the study in persistent storage and resumes it (see :meth:`reconcile`);
- polls every ``poll_s`` seconds (0.05 s on the embedded server: see
  :func:`hpo.search._controller.poll_period`) with ONE batched status query for all active trials
  and feeds the pruner the points they reported (:class:`~hpo.search._watch.TrialWatch`);
- skips duplicate configurations without spending budget; retries failed trials;
- shares the study with other controllers (other machines): each trial's budget is claimed
  atomically in the study storage (:func:`hpo.study.claim_trial`), so together they never exceed it;
- on stop dequeues queued trials and aborts running ones before it returns.

Its bookkeeping is the pure :class:`~hpo.search._ledger.TrialLedger`. Launching is
:meth:`OptunaStrategy._launch` (one trial: ``_launch_trial``); aborting is ``_abort_active``.

Threading: everything here runs in the optimizer's thread, except :meth:`request_stop` and
:meth:`stop` (any thread) which only set events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from clearml.automation.optimization import MultiObjective, SearchStrategy
from optuna.trial import TrialState

from hpo import task_status
from hpo.search import _resume, _routing, _trials
from hpo.search._ledger import ActiveTrial, TrialLedger
from hpo.search._output import set_clone_output
from hpo.search._plan import SearchPlan
from hpo.search._sampling import as_override, suggest
from hpo.search._space import SearchSpace
from hpo.search._watch import TrialWatch
from hpo.study import (
    StudyAttr,
    TrialAttr,
    TrialLabel,
    claim_trial,
    interrupt_trial,
    new_owner,
    write_controller_record,
)
from hpo.templates import without_template_tags

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0  # well inside hpo.study.HEARTBEAT_STALE_S
OPTIMIZER_CHECK_S = 3.0  # how often the optimizer task's own status is read (someone may have stopped it)


class SearchAborted(Exception):
    """The search cannot go on (the server keeps failing, every launch fails)."""


class OptunaStrategy(SearchStrategy):
    """A ``SearchStrategy`` that asks a persistent Optuna study what to run next.

    Args:
        plan: The search: space, study, template, queues, budget, poll period, limits.
    """

    def __init__(self, plan: SearchPlan) -> None:
        objectives = plan.space.objectives
        metric: Any = MultiObjective(  # ClearML's optimizer reads it; the values come from the study
            title=[o.title for o in objectives],
            series=[o.series for o in objectives],
            order=[o.direction for o in objectives],
            extremum=[False for _ in objectives],
        )
        super().__init__(
            base_task_id=plan.template_id,
            hyper_parameters=[param.clearml_range() for param in plan.space.params],
            objective_metric=metric,
            execution_queue=plan.queues[0],
            num_concurrent_workers=plan.space.concurrency,
            pool_period_min=plan.poll_s / 60.0,
            total_max_jobs=plan.budget,
        )
        self.plan = plan
        grid = plan.space.sampler.name == "grid"
        self.ledger = TrialLedger(plan.budget if not grid else min(plan.budget, _grid_size(plan.space)))
        self.watch = TrialWatch(plan, self.ledger, self._abort, self._retry, self._stop_requested_now)
        self.stop_reason: str | None = None
        self.error: str | None = None
        self.finished = threading.Event()
        self.owner = new_owner()
        self._stop_requested = threading.Event()
        self._last_beat = time.monotonic()
        self._optimizer_checked = time.monotonic()
        self._started = time.time()
        self._naming_number = 0
        self.set_job_naming_scheme(self._job_name)

    @property
    def end_reason(self) -> str | None:
        """A normal end before the budget (converged): trials in flight finish."""
        return self.watch.end_reason

    # ---- what HyperParameterOptimizer reads -------------------------------------------------
    def get_running_jobs(self) -> Sequence[Any]:
        return self.ledger.running_jobs()

    def get_created_jobs_ids(self) -> Mapping[str, dict[str, str]]:
        return self.ledger.created_ids()

    def get_created_jobs_tasks(self) -> Mapping[str, Any]:
        return self.ledger.created_tasks()

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

    def _stop_requested_now(self) -> bool:
        return self._stop_requested.is_set()

    # ---- the loop ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the search until the budget is spent or a stop is requested, then wait for :meth:`stop`."""
        try:
            write_controller_record(self.plan.study, self.owner, self._started)
            self.reconcile()
            self._loop()
        except SearchAborted as err:
            self.error = str(err)
            log.error("search aborted: %s", err)
        finally:
            if self.ledger.active:
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
                self.watch.poll()
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
            if not self.ledger.active and (self.ledger.budget_full or self.stop_reason):
                return
            self._stop_requested.wait(self.plan.poll_s)

    def _check_external_stop(self) -> None:
        if self.plan.deadline is not None and time.time() >= self.plan.deadline:
            self.request_stop("time limit")
            return
        study = self.plan.study
        attrs = study.user_attrs
        if attrs.get(StudyAttr.STOP_REQUESTED):
            self.request_stop("stop requested")
            return
        if self._optimizer_ended(attrs):
            self.request_stop("optimizer task stopped")
            return
        if time.time() - float(attrs.get(StudyAttr.HEARTBEAT) or 0) > HEARTBEAT_S:
            study.set_user_attr(StudyAttr.HEARTBEAT, time.time())
        if time.monotonic() - self._last_beat > HEARTBEAT_S:  # this controller's own, whoever wrote the above
            self._last_beat = time.monotonic()
            write_controller_record(study, self.owner, self._started)

    def _optimizer_ended(self, attrs: Mapping[str, Any]) -> bool:
        """Whether someone ended the optimizer task (a web UI's abort or Stop search): as for ClearML's own
        optimizer, that ends the search (read every :data:`OPTIMIZER_CHECK_S` seconds)."""
        task_id = str(attrs.get(StudyAttr.OPTIMIZER_TASK_ID) or "")
        if not task_id or time.monotonic() - self._optimizer_checked < OPTIMIZER_CHECK_S:
            return False
        self._optimizer_checked = time.monotonic()
        state = _trials.fetch_states([task_id]).get(task_id)
        return state is not None and state.status in task_status.ENDED

    def _retire(self) -> None:
        try:
            write_controller_record(self.plan.study, self.owner, self._started, ended=True)
        except Exception as err:  # others then take this controller for dead by its heartbeat
            log.warning("cannot record the end of controller %s: %s", self.owner, err)

    # ---- resume -----------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Bring the study in line with ClearML before the first launch (see :mod:`hpo.search._resume`)."""
        _resume.reconcile(self.plan, self.ledger, self.watch, self.owner, self._discard_unlaunched)

    def _discard_unlaunched(self, number: int) -> None:
        """A trial the last controller asked for but never enqueued: delete the draft it may have
        cloned already (found by its name) and fail the trial; the budget never counted it."""
        name = _trials.task_name(self._base_task_name, self.plan.study_name, number)  # set by SearchStrategy
        _trials.delete_drafts(name, self._job_parent_id or self._base_task_id)  # helper_create_job's parent
        attrs = {TrialAttr.STATE: TrialLabel.FAILED, TrialAttr.ERROR: "never launched"}
        self.watch.tell(number, TrialState.FAIL, attrs)

    # ---- launching --------------------------------------------------------------------------
    def _launch(self) -> None:
        free = self.ledger.free_slots(self.plan.space.concurrency)
        if free <= 0:
            return
        queues = self._route(free)
        for queue in queues:
            if self._stop_requested.is_set():
                return
            study = self.plan.study
            trial, trials = claim_trial(study, self.plan.storage, self.owner, self.ledger.max_trials)
            self.ledger.remember(trials)  # what other controllers ran meanwhile
            if trial is None:
                self.ledger.budget_full = True
                return
            params = suggest(trial, self.plan.space)
            if self._is_duplicate(trial, params):
                continue
            self._launch_trial(trial, params, queue, attempt=1)

    def _route(self, count: int) -> list[str]:
        queues = list(self.plan.queues)
        if len(queues) == 1:
            return queues * count
        return _routing.assign(_routing.queue_loads(queues), count)

    def _is_duplicate(self, trial: optuna.Trial, params: dict[str, Any]) -> bool:
        """Tell Optuna a repeated configuration's known outcome instead of running it again."""
        original = self.ledger.original_of(trial.number, params)
        if original is None:
            return False
        if self.ledger.exhausted:
            self.request_stop("search space exhausted")
        earlier = self.plan.study.get_trials(deepcopy=False)[original]
        attrs = {TrialAttr.STATE: TrialLabel.DUPLICATE, TrialAttr.DUPLICATE_OF: original}
        if earlier.state == TrialState.COMPLETE:
            self.watch.tell(trial.number, TrialState.COMPLETE, attrs, list(earlier.values))
        else:  # still running, or it failed: nothing to learn from the repeat
            self.watch.tell(trial.number, TrialState.FAIL, attrs)
        log.info("trial %d repeats trial %d; not run", trial.number, original)
        return True

    def _retry(self, active: ActiveTrial) -> None:
        self._launch_trial(active.trial, active.params, active.queue, attempt=active.attempt + 1)

    def _launch_trial(self, trial: optuna.Trial, params: dict[str, Any], queue: str, attempt: int) -> None:
        self._naming_number = trial.number
        try:
            override = as_override({**self.plan.space.fixed, **params})
            job = self.helper_create_job(
                self._base_task_id,
                parameter_override=override,
                tags=[f"study:{self.plan.study_name}", f"trial:{trial.number}"],
            )
            # The clone came with the template's tags: a trial must never be found as a template.
            clone = job.task
            assert clone is not None, "ClearmlJob clones the template (caching and clone skipping are off)"
            clone.set_tags(without_template_tags(clone.get_tags()))
            set_clone_output(clone, self.plan.output)
            trial.set_user_attr(TrialAttr.TASK_ID, job.task_id())
            trial.set_user_attr(TrialAttr.QUEUE, queue)
            trial.set_user_attr(TrialAttr.ATTEMPTS, attempt)
            trial.set_user_attr(TrialAttr.STATE, TrialLabel.QUEUED)
            if attempt == 1:
                self.budget.jobs.update(job.task_id(), 1)  # ClearML's own budget report on the optimizer task
            self.ledger.attach(trial.number, ActiveTrial(trial, params, job, queue, attempt), override, attempt == 1)
            if not job.launch(queue):
                raise RuntimeError(f"cannot enqueue task {job.task_id()} on queue {queue!r}")
            self.ledger.launch_succeeded()
        except Exception as err:  # a trial that cannot be launched is failed; the search goes on
            log.warning("launching trial %d failed: %s", trial.number, err)
            self.watch.finish(trial.number, TrialState.FAIL, TrialLabel.FAILED, error=f"launch: {err}")
            if self.ledger.launch_failed():
                failures = self.ledger.launch_failures
                raise SearchAborted(f"{failures} launches in a row failed, the last with: {err}") from err

    def _job_name(self, base_name: str, override: Mapping[str, str]) -> str:
        return _trials.task_name(base_name, self.plan.study_name, self._naming_number)

    # ---- stopping ---------------------------------------------------------------------------
    def _abort_active(self) -> None:
        """Dequeue queued trials, abort running ones; they are not spent (``hpo.study.interrupt_trial``)."""
        actives = list(self.ledger.active.items())
        self._abort([a for _, a in actives])
        # A trial whose task completed before the stop reached it keeps its result: not interrupted.
        states = _trials.fetch_states([a.task_id for _, a in actives]) if actives else {}
        for number, active in actives:
            state = states.get(active.task_id)
            if state is not None and state.status in task_status.SUCCEEDED:
                try:
                    self.watch.update(number, active, state)
                except Exception as err:  # recorded as interrupted below, as any other stopped trial
                    log.warning("trial %d (task %s) completed as it was stopped: %s", number, active.task_id, err)
            if number in self.ledger.active:
                self.ledger.finish(number)
                interrupt_trial(self.plan.storage, self.plan.study, number, self.stop_reason or "stopped")

    def _abort(self, actives: Sequence[ActiveTrial]) -> None:
        """Stop these trials' tasks on the server and wait until none is queued or running."""
        _trials.abort([a.task_id for a in actives])


def _grid_size(space: SearchSpace) -> int:
    size = 1
    for param in space.params:
        size *= len(param.grid_values())
    return size


__all__ = ["ActiveTrial", "OptunaStrategy", "SearchAborted"]
