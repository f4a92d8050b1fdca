"""What the strategy reads from ClearML about running trials: one batched query per poll.

A trial's intermediate values are the points of its objective series as the trial reported them
(iteration, value), fetched only when the task's ``last_iteration`` moved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Fields of one batched tasks.get_all: enough to decide what happened to every running trial.
_FIELDS = ["status", "status_message", "status_reason", "last_iteration", "last_metrics"]
ENDED = ("completed", "published", "failed", "stopped", "closed")


@dataclass(frozen=True)
class TaskState:
    """One task in the batched answer."""

    id: str
    status: str
    message: str
    reason: str
    last_iteration: int
    last_metrics: Mapping[str, Any]

    def last_value(self, title: str, series: str) -> float | None:
        """The last reported value of ``title``/``series`` (matched by name: servers key them differently)."""
        for variants in self.last_metrics.values():
            for entry in (variants or {}).values():
                entry = entry if isinstance(entry, Mapping) else getattr(entry, "to_dict", lambda: {})()
                if entry.get("metric") == title and entry.get("variant") == series and entry.get("value") is not None:
                    return float(entry["value"])
        return None


def _plain(value: Any) -> Any:
    """SDK response objects (``last_metrics`` entries) as plain dicts."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
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


def drafts_named(name: str, parent: str) -> list[str]:
    """Ids of the draft tasks cloned from ``parent`` whose name is exactly ``name``."""
    from clearml import Task

    rows = Task.query_tasks(
        task_name=f"^{re.escape(name)}$",
        task_filter={"parent": parent, "status": ["created"], "search_hidden": True},
    )
    return [str(row) for row in rows]


def reported_points(task: Any, title: str, series: str) -> list[tuple[int, float]]:
    """``(iteration, value)`` of every report of ``title``/``series`` by ``task`` (a clearml Task)."""
    scalars = task.get_reported_scalars(x_axis="iter")
    data = (scalars.get(title) or {}).get(series) or {}
    xs, ys = data.get("x") or [], data.get("y") or []
    return [(int(x), float(y)) for x, y in zip(xs, ys, strict=False) if y is not None]


def output_model_id(task: Any) -> str | None:
    """The id of the task's last output model, if it saved one."""
    task.reload()
    models = task.models.get("output") or []
    return str(models[-1].id) if models else None


__all__ = ["ENDED", "TaskState", "drafts_named", "fetch_states", "output_model_id", "reported_points"]
