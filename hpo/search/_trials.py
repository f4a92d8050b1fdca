"""The ClearML side of trials: one batched status query per poll, reported points, aborts.

A trial's intermediate values are the points of its objective series as the trial reported them
(iteration, value), fetched only when the task's ``last_iteration`` moved. Trial tasks are named
:func:`task_name` so that a resumed or cleaned-up search finds the drafts a killed controller left.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpo import task_status
from hpo.study import Objective

log = logging.getLogger(__name__)

# Fields of one batched tasks.get_all: enough to decide what happened to every running trial.
_FIELDS = ["status", "status_message", "status_reason", "last_iteration", "last_metrics"]
_RULE_KEYS = {"last": "value", "min": "min_value", "max": "max_value"}  # an objective's value rule -> last_metrics
STOP_CONFIRM_S = 15.0  # how long agents get to confirm an abort before the task is force-stopped


@dataclass(frozen=True)
class TaskState:
    """One task in the batched answer."""

    id: str
    status: str
    message: str
    reason: str
    last_iteration: int
    last_metrics: Mapping[str, Any]

    def last_value(self, title: str, series: str, rule: str = "last") -> float | None:
        """The last reported value of ``title``/``series`` (matched by name: servers key them differently),
        or with ``rule`` ``min``/``max`` the smallest or largest value it reported."""
        key = _RULE_KEYS[rule]
        for variants in self.last_metrics.values():
            for entry in (variants or {}).values():
                entry = entry if isinstance(entry, Mapping) else getattr(entry, "to_dict", lambda: {})()
                if entry.get("metric") == title and entry.get("variant") == series and entry.get(key) is not None:
                    return float(entry[key])
        return None

    def objective_value(self, objective: Objective) -> float | None:
        """The trial's value of ``objective``: its last, min or max report, as ``objective.value`` says."""
        return self.last_value(objective.title, objective.series, objective.value)


def _plain(value: Any) -> Any:
    """SDK response objects (``last_metrics`` entries) as plain dicts."""
    if isinstance(value, Mapping):  # first: a hyperparams section is a dict whose to_dict() is empty
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    return value


def fetch_states(task_ids: Sequence[str]) -> dict[str, TaskState]:
    """The state of every task in ``task_ids`` with ONE ``tasks.get_all`` (deleted tasks are absent)."""
    if not task_ids:
        return {}
    from clearml import Task

    rows = Task.query_tasks(
        task_filter={"id": list(task_ids), "page_size": max(len(task_ids), 1), "search_hidden": True},
        additional_return_fields=_FIELDS,
    )
    out = {}
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        out[str(row["id"])] = TaskState(
            id=str(row["id"]),
            status=str(row.get("status") or ""),
            message=str(row.get("status_message") or ""),
            reason=str(row.get("status_reason") or ""),
            last_iteration=int(row.get("last_iteration") or 0),
            last_metrics=_plain(row.get("last_metrics") or {}),
        )
    return out


def task_name(base_name: str, study: str, number: int) -> str:
    """The name of trial ``number``'s task: unique per study and trial, so drafts can be found again."""
    return f"{base_name} [{study} #{number}]"


def delete_drafts(name: str, parent: str) -> list[str]:
    """Delete the draft tasks with ``parent`` named exactly ``name`` (what a controller killed while
    launching a trial leaves behind); returns their ids."""
    from clearml import Task

    rows = Task.query_tasks(
        task_name=f"^{re.escape(name)}$",
        task_filter={"parent": parent, "status": ["created"], "search_hidden": True},
    )
    ids = [str(row) for row in rows]
    for task_id in ids:
        log.info("deleting draft task %s (%s): cloned for a trial but never enqueued", task_id, name)
        Task.get_task(task_id=task_id).delete()
    return ids


def abort(task_ids: Sequence[str], confirm_s: float = STOP_CONFIRM_S) -> None:
    """Stop these tasks and wait until none is queued or running: queued ones are dequeued and
    stopped, running ones asked to stop (their agent ends them); after ``confirm_s`` seconds the
    rest are forced stopped, so that nothing stays "running"."""
    from clearml import Task

    ids = list(task_ids)
    for state in fetch_states(ids).values():
        try:
            task: Any = Task.get_task(task_id=state.id)
            if state.status == "queued":
                Task.dequeue(task)
                task.mark_stopped(force=True, status_message="stopped by hpo search")
            elif state.status == "in_progress":
                task.mark_stop_request(force=False, status_message="stopping")
            elif state.status == "created":
                task.mark_stopped(force=True, status_message="stopped by hpo search")
        except Exception as err:  # it may have ended meanwhile; checked below
            log.debug("stopping task %s: %s", state.id, err)
    deadline = time.monotonic() + confirm_s
    while ids and time.monotonic() < deadline:
        states = fetch_states(ids)
        ids = [i for i in ids if i in states and states[i].status in task_status.LIVE]
        if ids:
            time.sleep(0.2)
    for task_id in ids:
        log.warning("task %s did not confirm its abort in %.0f s; forcing it stopped", task_id, confirm_s)
        try:
            Task.get_task(task_id=task_id).mark_stopped(force=True, status_message="forced stop by hpo search")
        except Exception as err:
            log.warning("cannot force task %s stopped: %s", task_id, err)


def reported_points(task: Any, title: str, series: str) -> list[tuple[int, float]]:
    """``(iteration, value)`` of every report of ``title``/``series`` by ``task`` (a clearml Task)."""
    scalars = task.get_reported_scalars(x_axis="iter")
    data = (scalars.get(title) or {}).get(series) or {}
    xs, ys = data.get("x") or [], data.get("y") or []
    return [(int(x), float(y)) for x, y in zip(xs, ys, strict=False) if y is not None]


def objective_points(points: Sequence[tuple[int, float]], rule: str) -> list[tuple[int, float]]:
    """What the pruner sees of an objective's reports, in iteration order: each point as reported for
    ``last``; for ``min``/``max`` the running min or max up to that iteration (the trial's value, had it
    ended there), so the last point is the trial's value either way."""
    ordered = sorted(points)
    if rule == "last":
        return ordered
    pick = min if rule == "min" else max
    out: list[tuple[int, float]] = []
    for step, value in ordered:
        out.append((step, pick(value, out[-1][1]) if out else value))
    return out


def output_model_id(task: Any) -> str | None:
    """The id of the task's last output model, if it saved one."""
    task.reload()
    models = task.models.get("output") or []
    return str(models[-1].id) if models else None


__all__ = [
    "STOP_CONFIRM_S",
    "TaskState",
    "abort",
    "delete_drafts",
    "fetch_states",
    "objective_points",
    "output_model_id",
    "reported_points",
    "task_name",
]
