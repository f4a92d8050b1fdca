"""``tasks.*`` status transitions: started, completed, failed, stop, reset, enqueue, ..."""

from __future__ import annotations

from hpo.server._errors import APIError
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.routes import queues as queue_ops
from hpo.server.routes._common import updated
from hpo.server.routes.tasks._docs import (
    reject_published,
    set_status,
)
from hpo.server.routes.tasks._shared import task_for_edit

router = Router()


def _move(call: Call, new: str, allowed: tuple[str, ...], dequeue: bool = True) -> tuple[Data, Data]:
    """Move the request's task to ``new`` and stage it; returns the task and the response."""
    task = task_for_edit(call)
    fields = set_status(
        task,
        new,
        allowed_from=allowed,
        force=call.flag("force"),
        reason=call.opt_text("status_reason"),
        message=call.opt_text("status_message"),
    )
    if dequeue:
        queue_ops.remove_task_entry(call.store, task)
    call.store.tasks.put(task)
    return task, updated(fields)


@router.endpoint("tasks.started")
def started(call: Call) -> Data:
    _, response = _move(call, "in_progress", ("created", "queued", "in_progress"))
    return {**response, "started": 1}


@router.endpoint("tasks.completed")
def completed(call: Call) -> Data:
    return _move(call, "completed", ("in_progress", "created", "stopped", "queued"))[1]


@router.endpoint("tasks.failed")
def failed(call: Call) -> Data:
    return _move(call, "failed", ("created", "queued", "in_progress", "stopped", "failed", "completed"))[1]


@router.endpoint("tasks.stopped")
def stopped(call: Call) -> Data:
    return _move(call, "stopped", ("in_progress", "stopped", "queued", "created"))[1]


@router.endpoint("tasks.close")
def close(call: Call) -> Data:
    return _move(call, "closed", ("stopped", "completed", "failed", "closed"), dequeue=False)[1]


@router.endpoint("tasks.publish")
def publish(call: Call) -> Data:
    task, response = _move(call, "published", ("completed", "stopped", "failed", "published"), dequeue=False)
    # As ClearML (bll/task/task_operations.publish_task): only the last output model, unless told not to.
    outputs = task.get("models", {}).get("output", []) if call.flag("publish_model", True) else []
    for ref in outputs[-1:]:
        model = call.store.models.editable(ref.get("model", ""))
        if model is not None:
            model["ready"] = True
            call.store.models.put(model)
    return response


@router.endpoint("tasks.stop")
def stop(call: Call) -> Data:
    """Abort: a running task is asked to stop (its agent or SDK ends it); others stop at once."""
    task = task_for_edit(call)
    status = task.get("status")
    if status == "in_progress":
        task.update(status_message="stopping", status_reason=call.opt_text("status_reason") or "stopped by user")
        # status_changed dates the request: the watchdog ends stops nobody acknowledges.
        task["last_update"] = task["status_changed"] = now_iso()
        call.store.tasks.put(task)
        return updated({"status_message": "stopping"})
    if status in ("queued", "created") or call.flag("force"):
        queue_ops.remove_task_entry(call.store, task)
        fields = set_status(task, "stopped", reason=call.opt_text("status_reason") or "stopped by user")
        call.store.tasks.put(task)
        return updated(fields)
    raise APIError(400, 110, f"Invalid task status: task {task['id']} is '{status}', only running tasks can be stopped")


@router.endpoint("tasks.ping")
def ping(call: Call) -> Data:
    task = task_for_edit(call)
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return {}


@router.endpoint("tasks.reset")
def reset(call: Call) -> Data:
    task = task_for_edit(call)
    reject_published(task, "reset")
    dequeued = queue_ops.remove_task_entry(call.store, task)
    deleted_events = call.store.events.delete_for(task["id"])
    fields = set_status(task, "created", reason="reset")
    task.update(started=None, completed=None, last_metrics={}, last_iteration=0, active_duration=None)
    task["execution"] = {
        **task.get("execution", {}),
        "queue": None,
        "artifacts": [a for a in task.get("execution", {}).get("artifacts", []) if a.get("mode") == "input"],
    }
    task["models"] = {**task.get("models", {}), "output": []}
    task["output"] = {"destination": task.get("output", {}).get("destination")}
    call.store.tasks.put(task)
    return {**updated(fields), "dequeued": {"removed": int(dequeued)}, "events": {"deleted": deleted_events}}


@router.endpoint("tasks.enqueue")
def enqueue(call: Call) -> Data:
    task = task_for_edit(call)
    queue = queue_ops.resolve(call, call.opt_text("queue"), call.opt_text("queue_name"))
    fields = set_status(
        task,
        "queued",
        allowed_from=("created", "stopped", "failed"),
        force=call.flag("force"),
        reason=call.opt_text("status_reason"),
        message=call.opt_text("status_message"),
    )
    task["execution"] = {**task.get("execution", {}), "queue": queue["id"]}
    call.store.tasks.put(task)
    queue_ops.add_entry(call.store, queue["id"], task["id"])
    watched = any(queue["id"] in (w.get("queues") or []) for w in call.runtime.workers.values())
    return {**updated(fields), "queued": 1, "queue_watched": watched}


@router.endpoint("tasks.dequeue")
def dequeue(call: Call) -> Data:
    task = task_for_edit(call)
    if task.get("status") != "queued":
        if task.get("status") == "in_progress":
            return {**updated({}, 0), "dequeued": 0}
        raise APIError(400, 110, f"Invalid task status: task {task['id']} is '{task.get('status')}', not queued")
    queue_ops.remove_task_entry(call.store, task)
    fields = set_status(task, "created", reason=call.opt_text("status_reason") or "dequeued")
    task["execution"] = {**task.get("execution", {}), "queue": None}
    call.store.tasks.put(task)
    return {**updated(fields), "dequeued": 1}
