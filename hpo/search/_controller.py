"""``hpo search``: wire a search space, a study, queues and local agents to ClearML's optimizer.

Two modes, chosen by :mod:`hpo.connection`:

- **embedded default** (no server configured): the embedded server is started if needed, the
  demo data and the template are registered if needed, ``--local-workers`` (default 2) agents
  serve a local queue (``hpo-local``, or the queue the space pins) and are stopped at the end.
  The server stays up so results remain reachable.
- **a configured server**: its queues (``--queue``, else the space's pinned queue, else
  ``default``) are used and nothing local is started unless ``--local-workers N`` asks for it.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from hpo.errors import ConfigError, HPOError
from hpo.paths import hpo_home, searches_dir
from hpo.search import _converge
from hpo.search._sampling import make_pruner, make_sampler
from hpo.search._space import SearchSpace, load_space, with_overrides
from hpo.search._template import check_against_template, template_for_search
from hpo.search._warm import add_warm_start, find_warm_start
from hpo.study import (
    SearchState,
    StudyAttr,
    Summary,
    TrialLabel,
    create_named_study,
    latest,
    load,
    mark_controller,
    open_storage,
    others_alive,
    study_names,
    summarize,
)

if TYPE_CHECKING:  # imported where used: the strategy pulls ClearML's optimizer, promotion the SDK
    from hpo.promotion import Promotion
    from hpo.search._strategy import OptunaStrategy

log = logging.getLogger(__name__)

LOCAL_QUEUE = "hpo-local"
DEFAULT_LOCAL_WORKERS = 2
REPORT_PERIOD_MIN = 0.5  # the optimizer task's own reports refresh every 30 s


@dataclass
class SearchOptions:
    """What ``hpo search`` was asked (``None`` = the space's value or the mode's default)."""

    space: str
    trials: int | None = None
    concurrency: int | None = None
    queues: Sequence[str] = ()
    local_workers: int | None = None
    sampler: str | None = None
    pruner: str | None = None
    time_limit_min: float | None = None
    study: str | None = None
    storage: str | None = None
    resume: bool = False
    retries: int | None = None
    poll_s: float = 0.5
    api_host: str | None = None
    log_file: Path | None = None  # where the caller sends this process's logs; recorded in the study
    stop_when: str | None = None  # "converged": see _converge
    converge_min_trials: int | None = None
    converge_noise: float | None = None
    warm_start: str | None = None  # PROJECT[/TAG]: see _warm


@dataclass
class SearchResult:
    """How a search ended.

    Attributes:
        summary: The study's summary at the end (its ``state`` is the search's state word).
        reason: Why it ended: ``finished``, ``time limit``, ``stop requested``, ``Ctrl-C``, ``SIGTERM``...
        error: What stopped it early, when it failed.
        queues: The queues its trials ran on.
        promotion: The promotion of its best model, when it finished with a completed trial.
        interrupted: Whether Ctrl-C (or a signal the caller turned into ``KeyboardInterrupt``) ended it.
    """

    summary: Summary
    reason: str
    error: str | None = None
    queues: list[str] = field(default_factory=list)
    promotion: Promotion | None = None
    interrupted: bool = False


ProgressFn = Callable[[Summary], None]


def prepare(options: SearchOptions) -> SearchSpace:
    """The validated space with command-line overrides (no server contact); bad options fail here."""
    space = load_space(options.space)
    space = with_overrides(
        space,
        trials=options.trials,
        concurrency=options.concurrency,
        sampler=options.sampler,
        pruner=options.pruner,
        retries=options.retries,
    )
    converge_rule(options, space)
    return space


def converge_rule(options: SearchOptions, space: SearchSpace) -> _converge.ConvergeRule | None:
    """The ``--stop-when`` rule, checked (see :mod:`hpo.search._converge`)."""
    stop_when, min_trials, noise = options.stop_when, options.converge_min_trials, options.converge_noise
    return _converge.parse_rule(stop_when, space.objectives, min_trials, noise)


def run_search(options: SearchOptions, progress: ProgressFn | None = None) -> SearchResult:
    """Run (or resume) a search to the end of its budget, its time limit or a stop request.

    Raises:
        ConfigError: Bad space, options, or a study name clash.
        HPOError: The server, the template or the agents are not usable.
    """
    from hpo.connection import connect

    space = prepare(options)
    if options.time_limit_min is not None and options.time_limit_min <= 0:
        raise ConfigError(f"--time-limit must be positive (minutes), got {options.time_limit_min}")
    storage = open_storage(options.storage)  # a bad --storage fails here, before any task exists
    if options.study and not options.resume and options.study in study_names(storage):
        raise ConfigError(f"study {options.study!r} exists; pass --resume to continue it, or another --study name")
    conn = connect(options.api_host)
    embedded = conn.source == "embedded"
    template = template_for_search(space, embedded)
    template_id, template_params, project = template.id, template.params, template.project
    check_against_template(space, template)
    queues = _queues(space, options, embedded)
    warm = find_warm_start(options.warm_start, space, template_id, template_params) if options.warm_start else None
    study = _open_study(storage, space, options, template_id, queues)
    if warm is not None:
        add_warm_start(study, space, warm)
    if options.log_file is not None:
        study.set_user_attr(StudyAttr.LOG_FILE, str(options.log_file))
    budget = int(study.user_attrs[StudyAttr.BUDGET])
    workers = options.local_workers if options.local_workers is not None else (DEFAULT_LOCAL_WORKERS if embedded else 0)
    agents_home = local_agents_home(study.study_name)
    try:
        if workers:
            _start_local_agents(queues, workers, agents_home, _safe(study.study_name))
        return _drive(space, study, storage, template_id, project, queues, budget, options, progress, bool(workers))
    finally:
        if workers:
            from hpo.agents import stop as stop_agents

            stop_agents(home=agents_home, timeout=10)


def local_agents_home(study_name: str) -> Path:
    """Where ``--local-workers`` agents of a search keep their state and logs."""
    return searches_dir() / _safe(study_name)


def new_log_file() -> Path:
    """A fresh log file for one controller run: ``$HPO_HOME/logs/search-<UTC time>-<pid>.log``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = hpo_home() / "logs" / f"search-{stamp}-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]


def _queues(space: SearchSpace, options: SearchOptions, embedded: bool) -> list[str]:
    queues = [q.strip() for q in options.queues if q.strip()]
    if not queues and space.queue:
        queues = [space.queue]  # the space pins its template to a queue; locally, local workers serve it
    if not queues:
        queues = [LOCAL_QUEUE if embedded else "default"]
    if len(set(queues)) != len(queues):
        raise ConfigError(f"--queue names repeat: {queues}; name each queue once")
    return queues


def _open_study(
    storage: optuna.storages.BaseStorage,
    space: SearchSpace,
    options: SearchOptions,
    template_id: str,
    queues: list[str],
) -> optuna.Study:
    sampler, pruner = make_sampler(space), make_pruner(space)
    if options.resume:
        name = options.study or latest(storage, space.name)
        if name is None:
            raise ConfigError(f"no study of search space {space.name!r} to resume; run without --resume first")
        current = load(name, storage)
        offset = len(current.get_trials(deepcopy=False))
        if others_alive(current, owner=""):
            # Joining controllers that run now would share a seed and propose the same configurations:
            # each takes its own (a lone resume keeps the reproducible count-based one).
            offset += random.SystemRandom().randrange(1, 2**31)
        study = load(name, storage, sampler=make_sampler(space, seed_offset=offset), pruner=pruner)
        if options.trials is not None:
            study.set_user_attr(StudyAttr.BUDGET, options.trials)
        mark_controller(study)
        return study
    directions: list[Any] = [o.optuna_direction for o in space.objectives]
    name, exact = options.study or space.name, bool(options.study)
    study = create_named_study(storage, name, exact=exact, directions=directions, sampler=sampler, pruner=pruner)
    for config in space.initial:
        study.enqueue_trial(dict(config), skip_if_exists=True)
    attrs = {
        StudyAttr.SPACE: str(space.path),
        StudyAttr.SPACE_NAME: space.name,
        StudyAttr.TEMPLATE: space.template,
        StudyAttr.TEMPLATE_ID: template_id,
        StudyAttr.OBJECTIVES: [o.as_attr() for o in space.objectives],
        StudyAttr.BUDGET: space.trials,
        StudyAttr.QUEUES: queues,
        StudyAttr.SAMPLER: space.sampler.name,
        StudyAttr.PRUNER: space.pruner.name,
        StudyAttr.STARTED: time.time(),
    }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    mark_controller(study)
    return study


def _start_local_agents(queues: list[str], workers: int, home: Path, name: str) -> None:
    from hpo._processes import pid_alive
    from hpo.agents import read_state, start

    alive = [a for a in read_state(home) if pid_alive(a.pid)]  # left by a controller that was killed
    missing = workers - len(alive)
    if missing > 0:
        start(queues, missing, home=home, prefix=f"hpo-{name}")


def _clearml_parameters(space: SearchSpace) -> list[Any]:
    """The space as ClearML ``Parameter`` objects: what the optimizer task shows in the web UI."""
    return [param.clearml_range() for param in space.params]


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


def _drive(
    space: SearchSpace,
    study: optuna.Study,
    storage: optuna.storages.BaseStorage,
    template_id: str,
    project: str,
    queues: list[str],
    budget: int,
    options: SearchOptions,
    progress: ProgressFn | None,
    serves_others: bool = False,
) -> SearchResult:
    from clearml.automation.optimization import HyperParameterOptimizer, MultiObjective

    from hpo.search._strategy import OptunaStrategy

    task = _optimizer_task(study, project)
    objectives = space.objectives
    strategy = OptunaStrategy(
        base_task_id=template_id,
        hyper_parameters=_clearml_parameters(space),
        objective_metric=MultiObjective(
            title=[o.title for o in objectives],
            series=[o.series for o in objectives],
            order=[o.direction for o in objectives],
            extremum=[False for _ in objectives],
        ),
        space=space,
        study=study,
        storage=storage,
        queues=queues,
        budget=budget,
        concurrency=space.concurrency,
        retries=space.retries,
        poll_s=options.poll_s,
        deadline=time.time() + options.time_limit_min * 60 if options.time_limit_min else None,
        converge=converge_rule(options, space),
    )
    # ClearML's optimizer drives one objective; ours are all in the study. Its task shows the first.
    first = objectives[0]
    optimizer = HyperParameterOptimizer(
        base_task_id=template_id,
        hyper_parameters=_clearml_parameters(space),
        objective_metric_title=first.title,
        objective_metric_series=first.series,
        objective_metric_sign=first.direction,
        optimizer_class=strategy,
        max_number_of_concurrent_tasks=space.concurrency,
        execution_queue=queues[0],
        auto_connect_task=task,
    )
    optimizer.set_report_period(REPORT_PERIOD_MIN)
    reason, interrupted = _wait(optimizer, strategy, study, progress)
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
    if others and serves_others and state == SearchState.FINISHED:
        _serve_others(study, strategy.owner, progress)
    summary = summarize(study)
    if progress:
        progress(summary)
    finished = state == SearchState.FINISHED and not others
    promotion = _promote(study) if finished and summary.counts.get(TrialLabel.COMPLETED) else None
    return SearchResult(summary, reason, strategy.error, queues, promotion, interrupted)


def _promote(study: optuna.Study) -> Promotion | None:
    """Promote the best model at the end of a finished search; a failed promotion never fails the search."""
    from hpo.promotion import promote_study  # here, so that `hpo status` (which imports hpo.search) skips it

    try:
        return promote_study(study)
    except HPOError as err:
        log.warning("promotion failed: %s; run `hpo promote %s` to retry", err, study.study_name)
        return None


def _wait(
    optimizer: Any, strategy: OptunaStrategy, study: optuna.Study, progress: ProgressFn | None
) -> tuple[str, bool]:
    """Run until the strategy finishes; Ctrl-C asks it to stop (and clean up) first.

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
    except KeyboardInterrupt as err:
        interrupted = True
        strategy.request_stop(str(err) or "Ctrl-C")
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
