"""What a search was asked, what it will run, and how it ended: the values the controller passes on.

:class:`SearchOptions` is what ``hpo search`` was asked; :func:`hpo.search._controller.run_search`
turns it into one :class:`SearchPlan` (the space, the opened study, the template, the queues, the
budget, the limits), which :mod:`hpo.search._drive` and the strategy read instead of long
parameter lists; the end is a :class:`SearchResult`. :func:`open_study` creates or resumes the
study a plan drives.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from hpo.errors import ConfigError
from hpo.search._converge import ConvergeRule
from hpo.search._output import OutputTarget
from hpo.search._sampling import make_pruner, make_sampler
from hpo.search._space import SearchSpace
from hpo.study import StudyAttr, Summary, create_named_study, latest, load, mark_controller, others_alive

if TYPE_CHECKING:  # promotion pulls the SDK
    from hpo.promotion import Promotion

LOCAL_QUEUE = "hpo-local"


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
    poll_s: float = 0.25  # a finished trial is noticed within it (bench/overhead.py)
    api_host: str | None = None
    log_file: Path | None = None  # where the caller sends this process's logs; recorded in the study
    stop_when: str | None = None  # "converged": see _converge
    converge_min_trials: int | None = None
    converge_noise: float | None = None
    warm_start: str | None = None  # PROJECT[/TAG]: see _warm
    output_uri: str | None = None  # where clones upload: see _output
    check: bool = False  # a canary trial first: see _canary


@dataclass(frozen=True)
class SearchPlan:
    """One search, ready to run: everything the optimizer and the strategy need.

    Attributes:
        space: The validated space, with the command line's overrides.
        study: The opened (created or resumed) study.
        storage: The study's storage.
        template_id: The ClearML task every trial clones.
        project: The template's project (the optimizer task goes there).
        queues: The queues trials are enqueued on (the first one is ClearML's ``execution_queue``).
        budget: How many trials the study may launch, all controllers together.
        poll_s: Seconds between two polls of the trials' tasks.
        deadline: ``time.time()`` at which the search stops (``--time-limit``), if any.
        converge: The ``--stop-when converged`` rule, if any.
        local_workers: How many local agents this controller started (they serve the queues).
        output: Where each clone uploads (see :mod:`hpo.search._output`).
    """

    space: SearchSpace
    study: optuna.Study
    storage: optuna.storages.BaseStorage
    template_id: str
    project: str
    queues: tuple[str, ...]
    budget: int
    poll_s: float = 0.25
    deadline: float | None = None
    converge: ConvergeRule | None = None
    local_workers: int = 0
    output: OutputTarget = field(default_factory=OutputTarget)

    @property
    def study_name(self) -> str:
        return self.study.study_name


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


def choose_queues(space: SearchSpace, options: SearchOptions, embedded: bool) -> list[str]:
    """``--queue``, else the space's pinned queue, else the mode's default.

    Raises:
        ConfigError: A queue is named twice.
    """
    queues = [q.strip() for q in options.queues if q.strip()]
    if not queues and space.queue:
        queues = [space.queue]  # the space pins its template to a queue; locally, local workers serve it
    if not queues:
        queues = [LOCAL_QUEUE if embedded else "default"]
    if len(set(queues)) != len(queues):
        raise ConfigError(f"--queue names repeat: {queues}; name each queue once")
    return queues


def open_study(
    storage: optuna.storages.BaseStorage,
    space: SearchSpace,
    options: SearchOptions,
    template_id: str,
    queues: list[str],
) -> optuna.Study:
    """Create the search's study (its attributes recorded), or load it with ``--resume``.

    Raises:
        ConfigError: Nothing to resume.
    """
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


__all__ = ["LOCAL_QUEUE", "SearchOptions", "SearchPlan", "SearchResult", "choose_queues", "open_study"]
