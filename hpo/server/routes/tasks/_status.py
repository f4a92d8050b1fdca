"""``tasks.*`` status transitions: started, completed, failed, stop, reset, enqueue, ..."""

from __future__ import annotations

from hpo.server import domain
from hpo.server._errors import APIError
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.domain import (
    ALLOWED_FROM,
    STOPPABLE,
    STOPPING,
    abort_pending,
    reject_published,
    run_by_worker,
    set_status,
)
from hpo.server.routes._common import owner_fields, updated
from hpo.server.routes.tasks._shared import task_for_edit

router = Router()


def _move(call: Call, new: str, dequeue: bool = True) -> tuple[Data, Data]:
    """Move the request's task to ``new`` (from where the domain allows it) and stage it; (task, response)."""
    task = task_for_edit(call)
    reason, message = call.opt_text("status_reason"), call.opt_text("status_message")
    if new == "in_progress" and abort_pending(task):
        # Unlike ClearML's server: a task is marked started again and again as it starts (the
        # agent's daemon twice, its `execute`, `Task.init`), and an abort landing in between must
        # not be erased before the agent's next poll sees it.
        reason, message = task.get("status_reason"), task.get("status_message")
    fields = set_status(
        task,
        new,
        allowed_from=ALLOWED_FROM[new],
        force=call.flag("force"),
        reason=reason,
        message=message,
    )
    if dequeue:
        domain.remove_task_entry(call.store, task)
    call.store.tasks.put(task)
    return task, updated(fields)


@router.endpoint("tasks.started")
def started(call: Call) -> Data:
    _, response = _move(call, "in_progress")
    return {**response, "started": 1}


@router.endpoint("tasks.completed")
def completed(call: Call) -> Data:
    return _move(call, "completed")[1]


@router.endpoint("tasks.failed")
def failed(call: Call) -> Data:
    return _move(call, "failed")[1]


@router.endpoint("tasks.stopped")
def stopped(call: Call) -> Data:
    return _move(call, "stopped")[1]


@router.endpoint("tasks.close")
def close(call: Call) -> Data:
    return _move(call, "closed", dequeue=False)[1]


@router.endpoint("tasks.publish")
def publish(call: Call) -> Data:
    task, response = _move(call, "published", dequeue=False)
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
    """Stop as ClearML does: a task a worker runs is asked to stop (its agent ends it); others stop at once.

    The answer carries the changed fields (``status``, ``status_message``, ``last_update`` ...).
    """
    task = task_for_edit(call)
    status = task.get("status", "created")
    force = call.flag("force")
    if status not in STOPPABLE and not force:
        raise APIError(
            400, 110, f"Invalid task status: task {task['id']} is '{status}', only a running or queued task stops"
        )
    reason = call.opt_text("status_reason") or "stopped by user"
    if status == "in_progress" and run_by_worker(task, call.runtime.workers):
        # status_changed dates the request: the watchdog ends stops nobody acknowledges.
        fields = set_status(task, status, reason=reason, message=STOPPING)
    else:
        domain.remove_task_entry(call.store, task)
        fields = set_status(task, "stopped", reason=reason, message="stopped")
    call.store.tasks.put(task)
    return updated(fields)


@router.endpoint("tasks.ping")
def ping(call: Call) -> Data:
    task = task_for_edit(call)
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return {}


@router.endpoint("tasks.reset")
def reset(call: Call) -> Data:
    """Back to a draft, as ClearML's reset.

    Events, runtime and output artifacts go, and so do the draft models the task output that no
    other task uses; a published task, or one with published outputs, needs ``force``.
    """
    task = task_for_edit(call)
    force = call.flag("force")
    if not force:
        reject_published(task, "reset")
    outputs = _output_models(call, task)
    ready = [m["id"] for m in outputs if m.get("ready")]
    if ready and not force:
        raise APIError(400, 123, f"Task cannot be reset: task {task['id']} has published output models {ready[:5]}"
                       "; pass force=true")  # fmt: skip
    deleted_models = _delete_drafts(call, task, outputs) if call.flag("delete_output_models", True) else 0
    dequeued = domain.remove_task_entry(call.store, task)
    deleted_events = call.store.events.delete_for(task["id"])
    fields = set_status(task, "created", reason="reset")
    task.update(started=None, completed=None, last_metrics={}, last_iteration=0, active_duration=None, runtime={})
    for field in ("last_worker", "last_worker_report"):
        task.pop(field, None)
    task["execution"] = {
        **task.get("execution", {}),
        "queue": None,
        "artifacts": [a for a in task.get("execution", {}).get("artifacts", []) if a.get("mode") == "input"],
    }
    task["models"] = {**task.get("models", {}), "output": []}
    task["output"] = {"destination": task.get("output", {}).get("destination")}
    call.store.tasks.put(task)
    return {
        **updated(fields),
        "dequeued": {"removed": int(dequeued)},
        "events": {"deleted": deleted_events},
        "deleted_models": deleted_models,
    }


def _output_models(call: Call, task: Data) -> list[Data]:
    """The models ``task`` created (their ``task``) and those its ``models.output`` names."""
    refs = {ref.get("model") for ref in (task.get("models") or {}).get("output", [])}
    return [m for m in call.store.models if m.get("task") == task["id"] or m["id"] in refs]


def _delete_drafts(call: Call, task: Data, outputs: list[Data]) -> int:
    """Delete the draft (not ready) models among ``outputs`` that no other task takes as input."""
    used = {
        ref.get("model")
        for other in call.store.tasks
        if other["id"] != task["id"]
        for ref in (other.get("models") or {}).get("input", [])
    }
    drafts = [m["id"] for m in outputs if not m.get("ready") and m["id"] not in used]
    for model_id in drafts:
        call.store.models.delete(model_id)
    return len(drafts)


@router.endpoint("tasks.enqueue")
def enqueue(call: Call) -> Data:
    task = task_for_edit(call)
    queue = domain.resolve_queue(call.store, call.opt_text("queue"), call.opt_text("queue_name"), owner_fields(call))
    fields = set_status(
        task,
        "queued",
        allowed_from=ALLOWED_FROM["queued"],
        force=call.flag("force"),
        reason=call.opt_text("status_reason"),
        message=call.opt_text("status_message"),
    )
    task["execution"] = {**task.get("execution", {}), "queue": queue["id"]}
    # ClearML: a queued task is an agent's, no longer a development run
    task["system_tags"] = [t for t in task.get("system_tags") or [] if t != "development"]
    call.store.tasks.put(task)
    domain.add_entry(call.store, queue["id"], task["id"])
    watched = any(queue["id"] in (w.get("queues") or []) for w in call.runtime.workers.values())
    return {**updated(fields), "queued": 1, "queue_watched": watched}


@router.endpoint("tasks.dequeue")
def dequeue(call: Call) -> Data:
    task = task_for_edit(call)
    if task.get("status") != "queued":
        if task.get("status") == "in_progress":
            return {**updated({}, 0), "dequeued": 0}
        raise APIError(400, 110, f"Invalid task status: task {task['id']} is '{task.get('status')}', not queued")
    domain.remove_task_entry(call.store, task)
    fields = set_status(task, "created", reason=call.opt_text("status_reason") or "dequeued")
    task["execution"] = {**task.get("execution", {}), "queue": None}
    call.store.tasks.put(task)
    return {**updated(fields), "dequeued": 1}
