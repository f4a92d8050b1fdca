"""What a search cost: compute, queue wait, compute per queue, and the compute pruning saved.

Pure arithmetic over :class:`~hpo.analysis._records.TrialRecord` times:

- a trial's **run time** is its task's ``started`` to its end; its **queue wait** is its task's
  creation (the clone, enqueued at once) to ``started``;
- the search's **compute** is the sum of its trials' run times (per queue: the queue it ran on);
- the compute **saved by pruning**: each pruned trial stopped after ``steps`` of the ``full`` steps a
  completed trial trains (the most any completed trial reported); the steps it did not train are
  priced at its own measured time per step (run time / steps trained), or, when it has none, at the
  median time per step of the trials that have one.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hpo.analysis._records import TrialRecord
from hpo.study import TrialLabel


@dataclass
class SearchCost:
    """The cost of a search (seconds)."""

    compute_s: float = 0.0
    queue_wait_s: float = 0.0
    per_queue: dict[str, float] = field(default_factory=dict)
    saved_by_pruning_s: float = 0.0
    steps_saved: int = 0
    full_steps: int | None = None
    timed_trials: int = 0
    trials: dict[int, dict[str, float | None]] = field(default_factory=dict)  # number -> wait and run

    def as_dict(self) -> dict[str, Any]:
        """JSON (the study's ``cost`` attribute, ``hpo status --json``): seconds rounded to 0.1."""
        return {
            "compute_s": round(self.compute_s, 1),
            "queue_wait_s": round(self.queue_wait_s, 1),
            "per_queue": {q: round(s, 1) for q, s in sorted(self.per_queue.items())},
            "saved_by_pruning_s": round(self.saved_by_pruning_s, 1),
            "steps_saved": self.steps_saved,
            "full_steps": self.full_steps,
            "timed_trials": self.timed_trials,
            "trials": {str(n): {k: _round(v) for k, v in t.items()} for n, t in sorted(self.trials.items())},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def time_per_step(record: TrialRecord) -> float | None:
    """Its run time divided by the steps it trained, when both are known."""
    run = record.run_s
    return run / record.steps if run is not None and record.steps > 0 else None


def full_steps(records: Sequence[TrialRecord]) -> int | None:
    """How many steps a trial trains when nothing stops it: the most any completed trial reported."""
    steps = [r.steps for r in records if r.state == TrialLabel.COMPLETED and r.steps > 0]
    return max(steps) if steps else None


def search_cost(records: Sequence[TrialRecord]) -> SearchCost:
    """Compute, queue wait, per-queue compute and the compute pruning saved, over ``records``."""
    cost = SearchCost(full_steps=full_steps(records))
    rates = [r for r in (time_per_step(rec) for rec in records) if r is not None]
    median_rate = statistics.median(rates) if rates else None
    for record in records:
        run, wait = record.run_s, record.queue_wait_s
        if run is not None or wait is not None:
            cost.trials[record.number] = {"queue_wait_s": wait, "run_s": run}
        if run is not None:
            cost.timed_trials += 1
            cost.compute_s += run
            queue = record.queue or "-"
            cost.per_queue[queue] = cost.per_queue.get(queue, 0.0) + run
        if wait is not None:
            cost.queue_wait_s += wait
        if record.state == TrialLabel.PRUNED and cost.full_steps is not None:
            missed = max(cost.full_steps - record.steps, 0)
            rate = time_per_step(record) or median_rate
            cost.steps_saved += missed
            if rate is not None:
                cost.saved_by_pruning_s += missed * rate
    return cost


__all__ = ["SearchCost", "full_steps", "search_cost", "time_per_step"]
