"""Run a :class:`~hpo.search._plan.SearchPlan` with ClearML's ``HyperParameterOptimizer``.

:func:`drive` creates (or reuses) the optimizer task, hands the plan to our
:class:`~hpo.search._strategy.OptunaStrategy` inside ClearML's optimizer, waits for the end (a
Ctrl-C asks the strategy to dequeue and abort its trials first), records the end in the study and
on the optimizer task, and promotes the best model of a finished search. The optimizer task's
reports are what ClearML's web UI shows of the search, with its analysis (:mod:`hpo.analysis`:
refreshed as trials end, and a last one at the end).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna

from hpo.analysis import AnalysisRefresher
from hpo.errors import HPOError
from hpo.search._plan import SearchPlan, SearchResult
from hpo.study import SearchState, StudyAttr, Summary, TrialLabel, others_alive, summarize

if TYPE_CHECKING:  # imported where used: the strategy pulls ClearML's optimizer, promotion the SDK
    from hpo.promotion import Promotion
    from hpo.search._strategy import OptunaStrategy

log = logging.getLogger(__name__)

REPORT_PERIOD_MIN = 0.5  # the optimizer task's own reports refresh every 30 s

ProgressFn = Callable[[Summary], None]


def drive(plan: SearchPlan, progress: ProgressFn | None = None) -> SearchResult:
    """Run the plan's trials to the end of its budget, its time limit or a stop request.

    Args:
        plan: The search to run (its study is open, its agents started).
        progress: Called with the study's summary about twice a second, and at the end.

    Returns:
        How the search ended, with its promotion when it finished with a completed trial.
    """
    from clearml.automation.optimization import HyperParameterOptimizer

    from hpo import _sdk_speed
    from hpo.search._strategy import OptunaStrategy

    _sdk_speed.install()  # the SDK's per-call request check, without re-checking its schema every call
    study = plan.study
    task = _optimizer_task(study, plan.project)
    strategy = OptunaStrategy(plan)
    # ClearML's optimizer drives one objective; ours are all in the study. Its task shows the first.
    first = plan.space.objective
    optimizer = HyperParameterOptimizer(
        base_task_id=plan.template_id,
        hyper_parameters=[param.clearml_range() for param in plan.space.params],
        objective_metric_title=first.title,
        objective_metric_series=first.series,
        objective_metric_sign=first.direction,
        optimizer_class=strategy,
        max_number_of_concurrent_tasks=plan.space.concurrency,
        execution_queue=plan.queues[0],
        auto_connect_task=task,
    )
    optimizer.set_report_period(REPORT_PERIOD_MIN)
    analysis = AnalysisRefresher(study, task)
    reason, interrupted = _wait(optimizer, strategy, study, progress, analysis)
    try:
        analysis.final()  # the last analysis on the optimizer task, before it is closed
    except KeyboardInterrupt:  # a second Ctrl-C skips it; the search still ends cleanly
        log.warning("final analysis skipped (interrupted); `hpo analyze %s` reports it", task.id)
    # Converged is a normal end, like the budget's; a stop request, Ctrl-C or a time limit is not.
    state = (
        SearchState.FAILED
        if strategy.error
        else (SearchState.FINISHED if strategy.stop_reason is None else SearchState.STOPPED)
    )
    others = others_alive(study, strategy.owner)
    if others:  # the study goes on on another machine: the last controller to end closes it
        log.info("controllers %s still drive study %s; leaving it to them", ", ".join(others), study.study_name)
    else:
        study.set_user_attr(StudyAttr.STATE, state)
        study.set_user_attr(StudyAttr.STOP_REASON, strategy.error or reason)
        study.set_user_attr(StudyAttr.ENDED, time.time())
        _close_task(task, state, strategy.error or reason)
    if others and plan.local_workers and state == SearchState.FINISHED:
        _serve_others(study, strategy.owner, progress)
    summary = summarize(study)
    if progress:
        progress(summary)
    finished = state == SearchState.FINISHED and not others
    promotion = _promote(study) if finished and summary.counts.get(TrialLabel.COMPLETED) else None
    return SearchResult(summary, reason, strategy.error, list(plan.queues), promotion, interrupted)


def _optimizer_task(study: optuna.Study, project: str) -> Any:
    """The optimizer task of this study (its reports are what ClearML's web UI shows); reused on resume."""
    from clearml import Task

    previous = study.user_attrs.get(StudyAttr.OPTIMIZER_TASK_ID)
    task: Any = None
    if previous:
        try:
            task = Task.get_task(task_id=str(previous))
            task.mark_started(force=True)
        except Exception as err:  # deleted meanwhile: a new one carries on
            log.warning("cannot reuse optimizer task %s (%s); creating another", previous, err)
            task = None
    if task is None:
        task = Task.create(project_name=project or "HPO", task_name=f"HPO {study.study_name}", task_type="optimizer")
        task.add_tags([f"study:{study.study_name}"])
        task.mark_started(force=True)
        study.set_user_attr(StudyAttr.OPTIMIZER_TASK_ID, str(task.id))
    try:  # the page that lists the search's trials (its info tab), from the link the SDK prints
        url = str(task.get_output_log_web_page())
        study.set_user_attr(StudyAttr.OPTIMIZER_URL, url.removesuffix("/output/log") + "/general")
    except Exception as err:  # links are optional
        log.warning("cannot build the web UI link of optimizer task %s: %s", task.id, err)
    return task


def _promote(study: optuna.Study) -> Promotion | None:
    """Promote the best model at the end of a finished search; a failed promotion never fails the search."""
    from hpo.promotion import promote_study  # here, so that `hpo status` (which imports hpo.search) skips it

    try:
        return promote_study(study)
    except HPOError as err:
        log.warning("promotion failed: %s; run `hpo promote %s` to retry", err, study.study_name)
        return None


def _wait(
    optimizer: Any,
    strategy: OptunaStrategy,
    study: optuna.Study,
    progress: ProgressFn | None,
    analysis: AnalysisRefresher,
) -> tuple[str, bool]:
    """Run until the strategy finishes; Ctrl-C asks it to stop (and clean up) first. Meanwhile the
    analysis on the optimizer task is refreshed as trials end (in the background, throttled).

    Returns:
        Why it ended, and whether a ``KeyboardInterrupt`` ended it (its message, e.g. ``SIGTERM``,
        is the reason; a bare one is ``Ctrl-C``).
    """
    optimizer.start()
    last = 0.0
    interrupted = False
    try:
        while not strategy.finished.wait(0.25):
            if progress and time.monotonic() - last > 0.5:
                last = time.monotonic()
                progress(summarize(study))
            analysis.maybe()
    except KeyboardInterrupt as err:
        interrupted, why = True, str(err) or "Ctrl-C"
        strategy.request_stop(why)
        log.info("stopping (%s): dequeuing queued trials, aborting running ones", why, extra={"step": True})
        while not strategy.finished.wait(0.25):
            pass  # dequeuing and aborting the active trials
    finally:
        reason = strategy.stop_reason or strategy.end_reason or "finished"
        optimizer.stop(timeout=1.0)
    return reason, interrupted


def _serve_others(study: optuna.Study, owner: str, progress: ProgressFn | None) -> None:
    """Keep this machine's local agents until the other controllers of the study end: the agents
    serve their queue, so they may be running those controllers' trials (Ctrl-C stops waiting)."""
    others = others_alive(study, owner)
    log.info("this search's share is done; its local agents keep serving %s until they end", ", ".join(others))
    while others:
        if progress:
            progress(summarize(study))
        time.sleep(1.0)
        others = others_alive(study, owner)


def _close_task(task: Any, state: str, reason: str) -> None:
    """End the optimizer task with the search's state, its reason as the status message and in its log."""
    try:
        task.get_logger().report_text(f"search {state}: {reason}")
        task.flush(wait_for_uploads=True)
        if state == SearchState.FINISHED:
            task.mark_completed(force=True, status_message=reason)
        elif state == SearchState.FAILED:
            task.mark_failed(force=True, status_message=reason)
        else:
            task.mark_stopped(force=True, status_message=reason)
    except Exception as err:  # the results are in the study either way
        log.warning("cannot close optimizer task %s: %s", task.id, err)


__all__ = ["REPORT_PERIOD_MIN", "ProgressFn", "drive"]
