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
import re
import time
from pathlib import Path

from hpo.errors import ConfigError
from hpo.paths import hpo_home, searches_dir
from hpo.search import _converge
from hpo.search._canary import check_canary
from hpo.search._drive import ProgressFn, drive
from hpo.search._output import output_target
from hpo.search._plan import (
    LOCAL_QUEUE,
    SearchOptions,
    SearchPlan,
    SearchResult,
    choose_queues,
    open_study,
)
from hpo.search._queues import check_served
from hpo.search._space import SearchSpace, load_space, with_overrides
from hpo.search._template import check_against_template, template_for_search
from hpo.search._warm import add_warm_start, find_warm_start
from hpo.study import StudyAttr, open_storage, study_names

log = logging.getLogger(__name__)

DEFAULT_LOCAL_WORKERS = 2
# The embedded server answers the controller's batched status poll with ~0.2 ms of its CPU (~1 ms on
# the controller's side, measured): polled every 0.05 s instead of 0.25 s, a finished trial is noticed
# ~0.1 s sooner on average, for ~2% of a core. Other servers are polled every SearchOptions.poll_s.
EMBEDDED_POLL_S = 0.05
EMBEDDED_PING = "clearml-hpo embedded"  # in the embedded server's debug.ping answer
# A search's own agents poll their queue every 0.1 s: each wait the poll sets (a queued trial picked up,
# the script's exit noticed by `clearml-agent execute`, execute's exit noticed by the daemon) is
# ~0.05 s on average instead of ~0.125 s; two idle agents cost ~11% of a core instead of ~6% (measured).
SEARCH_AGENT_POLL_S = 0.1


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
    plan = plan_search(options)
    agents_home = local_agents_home(plan.study_name)
    watch = None
    try:
        if plan.local_workers:
            _start_local_agents(list(plan.queues), plan.local_workers, agents_home, _safe(plan.study_name))
            from hpo.agents import AgentWatch

            watch = AgentWatch(agents_home).start()  # a daemon that dies is reported and restarted
        if options.check:
            check_canary(plan)  # one canary run; stops the search (study failed) before any trial
        return drive(plan, progress)
    finally:
        if watch is not None:
            watch.stop()  # before the daemons are stopped: it would start them again
        if plan.local_workers:
            from hpo.agents import stop as stop_agents

            stop_agents(home=agents_home, timeout=10)


def plan_search(options: SearchOptions) -> SearchPlan:
    """Everything before the first trial: the space, the server, the template and its checks, the
    queues, warm start, and the created (or resumed) study, as one :class:`SearchPlan`.

    Raises:
        ConfigError: Bad space, options, or a study name clash.
        HPOError: The server or the template are not usable.
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
    queues = choose_queues(space, options, embedded)
    template = template_for_search(space, embedded)
    check_against_template(space, template)
    warm = find_warm_start(options.warm_start, space, template.id, template.params) if options.warm_start else None
    workers = options.local_workers if options.local_workers is not None else (DEFAULT_LOCAL_WORKERS if embedded else 0)
    check_served(queues, workers)  # the last checks before the study, the optimizer task or any trial exists
    output = output_target(options.output_uri, embedded)
    study = open_study(storage, space, options, template.id, queues)
    if warm is not None:
        add_warm_start(study, space, warm)
    if options.log_file is not None:
        study.set_user_attr(StudyAttr.LOG_FILE, str(options.log_file))
    return SearchPlan(
        space=space,
        study=study,
        storage=storage,
        template_id=template.id,
        project=template.project,
        queues=tuple(queues),
        budget=int(study.user_attrs[StudyAttr.BUDGET]),
        poll_s=poll_period(options.poll_s, conn.api_host),
        deadline=time.time() + options.time_limit_min * 60 if options.time_limit_min else None,
        converge=converge_rule(options, space),
        local_workers=workers,
        output=output,
    )


def poll_period(poll_s: float, api_host: str) -> float:
    """Seconds between two polls of the trials: ``poll_s``, or :data:`EMBEDDED_POLL_S` when the server at
    ``api_host`` says (in its ``debug.ping`` answer) it is the embedded one."""
    if poll_s <= EMBEDDED_POLL_S or not _is_embedded_server(api_host):
        return poll_s
    return EMBEDDED_POLL_S


def _is_embedded_server(api_host: str) -> bool:
    import httpx

    try:
        response = httpx.post(f"{api_host}/debug.ping", json={}, timeout=5.0)
        message = response.json()["data"]["msg"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:  # then it is polled as any other
        log.debug("cannot tell whether %s is the embedded server: %s", api_host, err)
        return False
    return EMBEDDED_PING in str(message)


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


def _start_local_agents(queues: list[str], workers: int, home: Path, name: str) -> None:
    from hpo._processes import pid_alive
    from hpo.agents import read_state, start

    alive = [a for a in read_state(home) if pid_alive(a.pid)]  # left by a controller that was killed
    missing = workers - len(alive)
    if missing > 0:
        start(queues, missing, home=home, prefix=f"hpo-{name}", poll_s=SEARCH_AGENT_POLL_S)
        log.info("started %d local agent(s) on %s", missing, ", ".join(queues), extra={"step": True})


__all__ = [
    "DEFAULT_LOCAL_WORKERS",
    "LOCAL_QUEUE",
    "SearchOptions",
    "SearchPlan",
    "SearchResult",
    "converge_rule",
    "local_agents_home",
    "new_log_file",
    "plan_search",
    "poll_period",
    "prepare",
    "run_search",
]
