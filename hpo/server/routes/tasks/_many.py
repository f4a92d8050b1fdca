"""``tasks.*_many``, ``tasks.move`` and ``tasks.update_tags``: ClearML's batch operations on tasks.

A batch applies the single-task endpoint (``tasks.stop``, ``tasks.enqueue`` ...) to each id in turn,
as ClearML Server's ``run_batch_operation`` does: an id the single endpoint refuses goes to
``failed`` with ClearML's error (``codes``, ``msg``, ``data``) and the others still apply. Each
item runs in a store savepoint, so a refused item leaves nothing half-written while the rest of
the batch commits with the call. Status rules therefore live once, in the single endpoints.

``tasks.move`` and ``tasks.update_tags`` are all-or-nothing, as in ClearML: an unknown id fails the
whole call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hpo.server._errors import APIError, missing_field, validation
from hpo.server._router import Call, Data, Handler, Router, now_iso
from hpo.server.domain import ensure_project
from hpo.server.routes._common import owner_fields, require, tag_list
from hpo.server.routes.tasks import _crud, _status
from hpo.server.routes.tasks._shared import task_for_edit

router = Router()

# Body fields each batch passes on to its single-task endpoint (the rest of the body is the batch's own).
_PASSED = ("force", "status_reason", "status_message", "delete_output_models", "return_file_urls",
           "publish_model", "queue", "queue_name")  # fmt: skip


def _failure(task_id: Any, err: APIError) -> Data:
    return {"id": str(task_id), "error": {"codes": [err.code, err.subcode], "msg": err.msg, "data": err.extra}}


def run_batch(
    call: Call, single: Handler, endpoint: str, shape: Callable[[Data], Data]
) -> tuple[list[Data], list[Data]]:
    """Apply ``single`` to each of the request's ``ids``; (succeeded, failed) as ClearML lists them.

    Args:
        call: The batch request; its ``ids`` and the fields in ``_PASSED`` reach each single call.
        single: The single-task endpoint's handler.
        endpoint: The single endpoint's name, as the handler sees it.
        shape: Turns a single call's answer into the batch item's fields (without ``id``).
    """
    if "ids" not in call.body:
        raise missing_field("ids")
    ids = call.items("ids")
    if not all(isinstance(i, str) for i in ids):
        raise validation("'ids' must be a list of task ids")
    shared = {k: call.body[k] for k in _PASSED if call.body.get(k) is not None}
    succeeded: list[Data] = []
    failed: list[Data] = []
    for task_id in dict.fromkeys(ids):
        one = dataclasses.replace(call, endpoint=endpoint, body={**shared, "task": task_id})
        try:
            with call.store.savepoint():
                answer = single(one) or {}
        except APIError as err:
            failed.append(_failure(task_id, err))
            continue
        succeeded.append({"id": task_id, **shape(answer)})
    return succeeded, failed


def _updates(answer: Data) -> Data:
    return {"updated": answer.get("updated", 1), "fields": answer.get("fields") or {}}


def _batch(name: str, single: Handler, shape: Callable[[Data], Data] = _updates) -> Handler:
    endpoint = name.removesuffix("_many")

    def handler(call: Call) -> Data:
        succeeded, failed = run_batch(call, single, endpoint, shape)
        return {"succeeded": succeeded, "failed": failed}

    handler.__name__ = handler.__qualname__ = name.replace(".", "_")
    handler.__doc__ = f"ClearML's ``{name}``: ``{endpoint}`` for each id, the refused ones listed with the reason."
    router.endpoint(name)(handler)
    return handler


def _urls(answer: Data) -> Data:
    return {"urls": answer["urls"]} if answer.get("urls") else {}


stop_many = _batch("tasks.stop_many", _status.stop)
publish_many = _batch("tasks.publish_many", _status.publish)
dequeue_many = _batch(
    "tasks.dequeue_many", _status.dequeue, lambda a: {**_updates(a), "dequeued": bool(a.get("dequeued"))}
)
archive_many = _batch("tasks.archive_many", _crud.archive, lambda a: {"archived": bool(a.get("archived"))})
reset_many = _batch(
    "tasks.reset_many",
    _status.reset,
    lambda a: {
        **_updates(a),
        "dequeued": bool((a.get("dequeued") or {}).get("removed")),
        "deleted_models": a.get("deleted_models", 0),
        **_urls(a),
    },  # fmt: skip
)
delete_many = _batch(
    "tasks.delete_many",
    _crud.delete,
    lambda a: {
        "deleted": bool(a.get("deleted")),
        "deleted_models": a.get("deleted_models", 0),
        "updated_children": a.get("updated_children", 0),
        "updated_models": a.get("updated_models", 0),
        **_urls(a),
    },  # fmt: skip
)


@router.endpoint("tasks.enqueue_many")
def enqueue_many(call: Call) -> Data:
    """ClearML's ``tasks.enqueue_many``; ``queue_watched`` tells whether a worker serves the queue."""
    shape: Callable[[Data], Data] = lambda a: {**_updates(a), "queued": True, "watched": a.get("queue_watched")}  # noqa: E731
    succeeded, failed = run_batch(call, _status.enqueue, "tasks.enqueue", shape)
    # As ClearML: the watchers of the first enqueued task's queue (they all went to one queue).
    watched = [bool(item.pop("watched")) for item in succeeded]
    return {"succeeded": succeeded, "failed": failed, **({"queue_watched": watched[0]} if watched else {})}


def _unarchive(call: Call) -> Data:
    task = task_for_edit(call)
    was = "archived" in (task.get("system_tags") or [])
    task["system_tags"] = [t for t in task.get("system_tags") or [] if t != "archived"]
    task["last_change"] = now_iso()
    call.store.tasks.put(task)
    return {"unarchived": was}


unarchive_many = _batch("tasks.unarchive_many", _unarchive, lambda a: {"unarchived": bool(a.get("unarchived"))})


def _existing(call: Call) -> list[str]:
    """The request's ``ids``, each an existing task (else ClearML's invalid-id error for the whole call)."""
    if "ids" not in call.body:
        raise missing_field("ids")
    ids = list(dict.fromkeys(tag_list(call, "ids")))
    for task_id in ids:
        require(call.store.tasks, "task", task_id)
    return ids


@router.endpoint("tasks.move")
def move(call: Call) -> Data:
    """Move tasks to ``project`` (an id; ``null`` is the root) or ``project_name`` (created if missing)."""
    if "project" not in call.body and not call.opt_text("project_name"):
        raise APIError(400, 11, "Validation error: missing required field 'project' or 'project_name'")
    ids = _existing(call)
    name = call.opt_text("project_name")
    project: str | None
    if name:
        project = str(ensure_project(call.store, name, owner_fields(call))["id"])
    else:
        project = call.opt_text("project") or None  # "" and null both mean no project (the root)
        if project:
            require(call.store.projects, "project", project)
    now = now_iso()
    for task_id in ids:
        task = call.store.tasks.editable(task_id)
        assert task is not None  # checked by _existing
        task.update(project=project, last_change=now)
        call.store.tasks.put(task)
    return {"project_id": project}


@router.endpoint("tasks.update_tags")
def update_tags(call: Call) -> Data:
    """Add ``add_tags`` to and drop ``remove_tags`` from each task (ClearML 2.27); tags keep their order."""
    ids = _existing(call)
    add, remove = tag_list(call, "add_tags"), set(tag_list(call, "remove_tags"))
    changed = 0
    for task_id in ids:
        task = call.store.tasks.editable(task_id)
        assert task is not None
        tags = [t for t in dict.fromkeys([*(task.get("tags") or []), *add]) if t not in remove]
        if tags != (task.get("tags") or []):
            task.update(tags=tags, last_change=now_iso())
            call.store.tasks.put(task)
            changed += 1
    return {"updated": changed}
