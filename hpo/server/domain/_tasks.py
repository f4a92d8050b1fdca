"""Task statuses and their transitions, as ClearML Server's ``bll/task`` rules them.

A task moves ``created`` (a draft) -> ``queued`` -> ``in_progress`` -> ``completed`` /
``stopped`` / ``failed`` -> ``published`` / ``closed``; :data:`ALLOWED_FROM` says from which
statuses each move is taken without ``force``. Only a draft's definition (script, parameters,
configuration) may be edited, unless ``force`` (:func:`require_draft`); a published task is
never changed in place (:func:`reject_published`): it is cloned.

Functions change the private (``editable``) copy they are given; the caller puts it back.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from hpo.server._errors import APIError, invalid_status
from hpo.server._router import now_iso
from hpo.server.domain._queues import remove_task_entry
from hpo.server.store import Store

Data = dict[str, Any]

TASK_TYPES = (
    "training", "testing", "inference", "data_processing", "application", "monitor",
    "controller", "optimizer", "service", "qc", "custom",
)  # fmt: skip
# Every status, in lifecycle order; ``publishing`` only lasts inside one request.
STATUSES = ("created", "queued", "in_progress", "stopped", "completed", "failed", "published", "closed", "publishing")
TRANSIENT_STATUSES = ("publishing",)
# The draft: the only status whose fields change without force.
DRAFT_STATUS = "created"
# Statuses of a task that has not ended yet (a search's trial that may still run).
LIVE_STATUSES = ("created", "queued", "in_progress")
# Statuses that end a run: reaching one sets ``completed``.
_ENDED = ("completed", "stopped", "failed", "published", "closed")

# The statuses each status is reached from without force (tasks.started, .completed, .enqueue ...).
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "in_progress": ("created", "queued", "in_progress"),
    "completed": ("in_progress", "created", "stopped", "queued"),
    "failed": ("created", "queued", "in_progress", "stopped", "failed", "completed"),
    "stopped": ("in_progress", "stopped", "queued", "created"),
    "closed": ("stopped", "completed", "failed", "closed"),
    "published": ("completed", "stopped", "failed", "published"),
    "queued": ("created", "stopped", "failed"),
}
# The status_message of a running task asked to stop (ClearML's tasks.stop; the agent looks for it).
STOPPING = "stopping"
# ClearML's tasks.stop: from where a task may be stopped without force.
STOPPABLE = ("in_progress", "queued", "stopped", "failed")
# ClearML's apiserver.workers.task_update_timeout: a task updated this lately still counts as run.
TASK_UPDATE_TIMEOUT_S = 600.0


def set_status(
    task: Data,
    new: str,
    *,
    allowed_from: tuple[str, ...] | None = None,
    force: bool = False,
    reason: str | None = None,
    message: str | None = None,
) -> Data:
    """Move ``task`` to status ``new``; returns the changed fields.

    Args:
        task: A private copy of the task, changed in place.
        new: The status to move to.
        allowed_from: The statuses the move is taken from (None: any); usually ``ALLOWED_FROM[new]``.
        force: Move from any status.
        reason: ``status_reason``.
        message: ``status_message``.

    Raises:
        APIError: The current status does not allow the transition and ``force`` is off (400, 110).
    """
    current = task.get("status", "created")
    if allowed_from is not None and current not in allowed_from and not force:
        raise invalid_status(
            f"cannot change task {task['id']} from '{current}' to '{new}' (allowed from: {', '.join(allowed_from)})"
        )
    now = now_iso()
    fields: Data = {
        "status": new,
        "status_changed": now,
        "status_reason": reason or "",
        "status_message": message or "",
        "last_update": now,
    }
    if new == "in_progress" and current != "in_progress":
        fields["started"] = now
    if new in _ENDED:
        fields["completed"] = now
        if task.get("started"):
            fields["active_duration"] = None
    task.update(fields)
    return fields


def abort_pending(task: Data) -> bool:
    """Whether someone asked ``task``'s worker to stop it (``tasks.stop``) and the worker has not yet done so."""
    return task.get("status") == "in_progress" and STOPPING in str(task.get("status_message") or "")


def require_draft(task: Data, force: bool, *, what: str = "edit") -> None:
    """ClearML's rule for changing what a task runs: a draft only, unless ``force``.

    The web UI's editor relies on this refusal. ClearML's parameter edits take ``force`` for a
    queued or running task only; here ``force`` reaches any status, as ``tasks.edit`` does in
    ClearML, so a finished run's parameters can still be fixed on purpose.

    Raises:
        APIError: The task is not a draft and ``force`` is off (400, 110).
    """
    status = task.get("status", "created")
    if status != "created" and not force:
        raise invalid_status(
            f"cannot {what} task {task['id']}: it is '{status}' and only a draft is editable;"
            " clone it and edit the clone, or pass force=true"
        )


def reject_published(task: Data, action: str) -> None:
    """Refuse ``action`` on a published task (400, 113): a published run is cloned, not changed."""
    if task.get("status") in ("published", "publishing"):
        raise APIError(400, 113, f"Task is published: cannot {action} task {task['id']} (clone it instead)")


def _seconds_since(value: object) -> float:
    if not isinstance(value, str) or not value:
        return float("inf")
    try:
        return time.time() - datetime.fromisoformat(value).timestamp()
    except ValueError:
        return float("inf")


def run_by_worker(task: Data, workers: dict[str, Data]) -> bool:
    """Whether a worker runs ``task``: its ``last_worker`` reports it now, or the task was updated lately.

    A development task (a script's own ``Task.init``) never is: its SDK follows the status.
    """
    worker_id = task.get("last_worker")
    if "development" in (task.get("system_tags") or []) or not worker_id:
        return False
    if (workers.get(str(worker_id)) or {}).get("task") == task["id"]:
        return True
    return _seconds_since(task.get("last_update")) < TASK_UPDATE_TIMEOUT_S


def require_deletable(task: Data, force: bool) -> None:
    """ClearML's rule for deleting a task: without ``force`` only a draft or an archived task goes.

    So a run's record is not lost by mistake.

    Raises:
        APIError: Any other task and ``force`` is off (400, 123).
    """
    status = task.get("status")
    if status != "created" and "archived" not in (task.get("system_tags") or []) and not force:
        raise APIError(
            400, 123, f"Task cannot be deleted: task {task['id']} is '{status}'; archive it first or pass force=true"
        )


def delete_task(store: Store, task: Data) -> int:
    """Stage the deletion of a task with its queue entries and events; returns how many events it had.

    Its models are the caller's to keep, detach or delete.
    """
    remove_task_entry(store, task)
    events = store.events.delete_for(task["id"])
    store.tasks.delete(task["id"])
    return events
