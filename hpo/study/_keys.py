"""The names of the user attributes a search writes, and the words its ``state`` attributes take.

Everything that reads or writes a study (the search, ``hpo status``, promotion, the dashboard)
uses these names; the stored values stay plain strings, so any Optuna tool reads them.

A trial's ``state`` (:class:`TrialLabel`) is finer than Optuna's ``TrialState``::

    queued -> running -> completed | pruned | failed | stopped
    duplicate  (never launched: same configuration as an earlier trial; not counted in the budget)
    warm-start (never launched: an earlier ClearML task added by --warm-start; not counted either)

A ``stopped`` trial that the search itself stopped (Ctrl-C, SIGTERM, ``hpo stop``, its time limit)
also carries ``interrupted`` (the reason): it is not spent. It is not counted in the budget nor
among the finished trials, Optuna has it as ``FAIL`` (samplers learn nothing from a trial cut
short for a reason other than its quality), and a later claim of the budget (``--resume``, or
another controller sharing the study) runs its configuration again, as a trial whose
``retry_of`` is its number (``hpo.study._budget``).

A study's ``state`` (:class:`SearchState`) is ``running`` while a controller drives it, then
``finished``, ``stopped`` or ``failed``; ``interrupted`` is never stored: it is what a study that
says ``running`` is when its controller has died (``hpo search --resume`` continues it).
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class _Word(str, Enum):
    """A state word: compares, formats and serialises (JSON) as its plain string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class TrialLabel(_Word):
    """The search's view of a trial (its ``state`` user attribute)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"
    STOPPED = "stopped"
    DUPLICATE = "duplicate"
    WARM_START = "warm-start"


# Labels of trials that are over (what "done" counts; a duplicate never ran).
FINISHED_LABELS: Final = (TrialLabel.COMPLETED, TrialLabel.PRUNED, TrialLabel.FAILED, TrialLabel.STOPPED)


class SearchState(_Word):
    """The state of a search (its study's ``state`` user attribute; ``INTERRUPTED`` is derived)."""

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # says running, but its controller died


class TrialAttr:
    """User attributes of a trial: what ties it to ClearML."""

    STATE: Final = "state"  # a TrialLabel
    TASK_ID: Final = "task_id"
    QUEUE: Final = "queue"
    MODEL_ID: Final = "model_id"
    ATTEMPTS: Final = "attempts"
    FAILED_TASK_IDS: Final = "failed_task_ids"  # tasks of earlier attempts (--retries)
    ERROR: Final = "error"
    DUPLICATE_OF: Final = "duplicate_of"
    PROGRESS: Final = "progress"  # while it runs: {"iteration": last reported, "value": last objective value}
    CLAIMED_BY: Final = "claimed_by"  # the controller that claimed the trial's share of the budget
    OBJECTIVE_SE: Final = "objective_se"  # the standard error the task reported for the objective (<series>_se)
    WARM_START_TASK_ID: Final = "warm_start_task_id"  # a warm-start trial's source task (it has no task_id)
    INTERRUPTED: Final = "interrupted"  # why its own search stopped it (Ctrl-C, time limit...): not spent
    RETRY_OF: Final = "retry_of"  # the interrupted trial whose configuration this trial runs again
    PRUNED_AT: Final = "pruned_at"  # why it was pruned: {pruner, step, value, threshold, rule, reason} (hpo.analysis)


class StudyAttr:
    """User attributes of a study: what the search was asked and where it stands."""

    SPACE: Final = "space"
    SPACE_NAME: Final = "space_name"
    TEMPLATE: Final = "template"
    TEMPLATE_ID: Final = "template_id"
    OBJECTIVES: Final = "objectives"  # [[title, series, "max" | "min"], ...]
    BUDGET: Final = "budget"
    QUEUES: Final = "queues"
    SAMPLER: Final = "sampler"
    PRUNER: Final = "pruner"
    STARTED: Final = "started"
    ENDED: Final = "ended"
    STATE: Final = "state"  # a SearchState
    STOP_REASON: Final = "stop_reason"
    STOP_REQUESTED: Final = "stop_requested"
    CONTROLLER: Final = "controller"  # {"pid": ..., "host": ...}
    CONTROLLER_RECORD: Final = "controller:"  # + owner: each sharing controller's own record (hpo.study._budget)
    HEARTBEAT: Final = "heartbeat"
    OPTIMIZER_TASK_ID: Final = "optimizer_task_id"
    OPTIMIZER_URL: Final = "optimizer_url"  # the optimizer task's page in the ClearML web UI (its trials)
    CONVERGENCE: Final = "convergence"  # --stop-when converged: the rule and its latest verdict
    WARM_START: Final = "warm_start"  # --warm-start: the source, what was added and what was skipped
    LOG_FILE: Final = "log_file"  # the log of its latest controller (the SDK's and the optimizer's lines)
    COST: Final = "cost"  # what the search cost: compute, queue wait, per queue, saved by pruning (hpo.analysis)


__all__ = ["FINISHED_LABELS", "SearchState", "StudyAttr", "TrialAttr", "TrialLabel"]
