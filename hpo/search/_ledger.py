"""The trial ledger: one controller's bookkeeping of its trials, pure (no ClearML, no storage).

The strategy asks the ledger what it holds and tells it what happened; the ledger never talks
to a server or a study. It keeps:

- the **active** trials (launched, not finished: what each poll looks at), and every job this
  controller created (what ClearML's optimizer reports on its task);
- the **seen** configurations (config key -> the trial that ran it), so a repeat is not run
  again; repeats in a row mean the space is exhausted;
- the **launched** count of this controller and its trial cap (``max_trials``; the budget shared
  by all controllers is claimed in the study), and whether the budget is full;
- the launch failures in a row (too many end the search).

Threading: used from the optimizer's thread only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo.search._sampling import config_key
from hpo.study import TrialAttr, TrialLabel, interrupted, launched

MAX_DUPLICATES_IN_A_ROW = 50  # a space this exhausted has nothing new to offer
MAX_LAUNCH_FAILURES_IN_A_ROW = 5


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

    @property
    def truncated(self) -> bool:
        """Whether it reported points before it ended early (then it counts as pruned, not failed)."""
        return bool(self.reported_steps)


class TrialLedger:
    """What one controller launched, watches and has seen.

    Args:
        max_trials: The most trials this controller launches (the budget, or the grid's size).
    """

    def __init__(self, max_trials: int) -> None:
        self.max_trials = max_trials
        self.active: dict[int, ActiveTrial] = {}
        self.jobs: dict[str, tuple[Any, dict[str, str]]] = {}  # task id -> (job, its parameter overrides)
        self.seen: dict[str, int] = {}  # config key -> trial number that ran it
        self.launched = 0  # first attempts by this controller (ClearML's budget report)
        self.budget_full = False
        self.duplicates_in_a_row = 0
        self.launch_failures = 0

    # ---- configurations ---------------------------------------------------------------------
    def remember(self, trials: Sequence[optuna.trial.FrozenTrial]) -> None:
        """Note the configurations of ``trials`` that ran or run, so repeats of them are not run again."""
        for frozen in trials:
            counted = launched(frozen) and frozen.user_attrs.get(TrialAttr.STATE) != TrialLabel.DUPLICATE
            counted = counted and not interrupted(frozen)  # its configuration waits to run again
            if (counted or frozen.state == optuna.trial.TrialState.COMPLETE) and frozen.params:
                self.seen.setdefault(config_key(frozen.params), frozen.number)

    def original_of(self, number: int, params: Mapping[str, Any]) -> int | None:
        """The trial that ran ``params`` already, else ``None`` (and trial ``number`` now owns them)."""
        key = config_key(params)
        original = self.seen.get(key)
        if original is None:
            self.duplicates_in_a_row = 0
            self.seen[key] = number
            return None
        self.duplicates_in_a_row += 1
        return original

    @property
    def exhausted(self) -> bool:
        """Whether so many proposals in a row repeated earlier ones that the space has nothing new."""
        return self.duplicates_in_a_row >= MAX_DUPLICATES_IN_A_ROW

    # ---- launches ---------------------------------------------------------------------------
    def free_slots(self, concurrency: int) -> int:
        """How many trials may be launched now (none once the budget is full)."""
        return 0 if self.budget_full else max(concurrency - len(self.active), 0)

    def attach(self, number: int, active: ActiveTrial, override: dict[str, str], first: bool = False) -> None:
        """Watch ``active`` as trial ``number``; ``first`` counts a first attempt as launched."""
        if first:
            self.launched += 1
        self.jobs[active.task_id] = (active.job, override)
        self.active[number] = active

    def launch_succeeded(self) -> None:
        self.launch_failures = 0

    def launch_failed(self) -> bool:
        """Count a failed launch; True when too many failed in a row to go on."""
        self.launch_failures += 1
        return self.launch_failures >= MAX_LAUNCH_FAILURES_IN_A_ROW

    def close_budget(self) -> None:
        """Launch nothing more (the search converged): the cap becomes what was launched."""
        self.max_trials = self.launched

    # ---- the end of a trial -----------------------------------------------------------------
    def finish(self, number: int) -> ActiveTrial | None:
        """Stop watching trial ``number``; returns it when it was active."""
        return self.active.pop(number, None)

    @property
    def done(self) -> bool:
        """Nothing active, and nothing more to launch."""
        return not self.active and self.budget_full

    # ---- what ClearML's optimizer reads -----------------------------------------------------
    def running_jobs(self) -> list[Any]:
        return [active.job for active in self.active.values()]

    def created_ids(self) -> dict[str, dict[str, str]]:
        return {task_id: params for task_id, (_, params) in self.jobs.items()}

    def created_tasks(self) -> dict[str, Any]:
        return {task_id: job for task_id, (job, _) in self.jobs.items()}


__all__ = ["MAX_DUPLICATES_IN_A_ROW", "MAX_LAUNCH_FAILURES_IN_A_ROW", "ActiveTrial", "TrialLedger"]
