"""The task document: its defaults, the fields clients may set, and status transitions."""

from __future__ import annotations

import copy

from hpo.server._errors import APIError, invalid_status, validation
from hpo.server._router import Call, Data, new_id, now_iso
from hpo.server.routes._common import owner_fields, tag_list

TASK_TYPES = (
    "training", "testing", "inference", "data_processing", "application", "monitor",
    "controller", "optimizer", "service", "qc", "custom",
)  # fmt: skip
STATUSES = (
    "created",
    "queued",
    "in_progress",
    "stopped",
    "published",
    "publishing",
    "closed",
    "failed",
    "completed",
)

# Fields tasks.create and tasks.edit take, each replacing the stored value whole.
DICT_FIELDS = ("script", "hyperparams", "configuration", "execution", "container", "runtime", "models")
STR_FIELDS = ("name", "comment", "parent", "type")


def new_task(call: Call, name: str, project: str | None) -> Data:
    now = now_iso()
    return {
        "id": new_id(),
        "name": name,
        "type": "training",
        "status": "created",
        "status_reason": "",
        "status_message": "",
        "status_changed": now,
        "comment": "",
        "project": project,
        "parent": None,
        **owner_fields(call),
        "last_change": now,
        "started": None,
        "completed": None,
        "tags": [],
        "system_tags": [],
        "script": {},
        "hyperparams": {},
        "configuration": {},
        "execution": {"artifacts": [], "parameters": {}},
        "output": {"destination": None},
        "models": {"input": [], "output": []},
        "container": {},
        "runtime": {},
        "last_metrics": {},
        "last_iteration": 0,
        "active_duration": None,
    }


def apply_fields(call: Call, task: Data) -> Data:
    """Copy the editable fields present in the request onto ``task``; returns what changed."""
    fields: Data = {}
    body = call.body
    for key in STR_FIELDS:
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise validation(f"'{key}' must be a string, got {type(value).__name__}")
            fields[key] = value
    if "type" in fields and fields["type"] not in TASK_TYPES:
        raise validation(f"unknown task type {fields['type']!r}; use one of {', '.join(TASK_TYPES)}")
    for key in DICT_FIELDS:
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, dict):
                raise validation(f"'{key}' must be an object, got {type(value).__name__}")
            fields[key] = copy.deepcopy(value) if value is not None else {}
    for key in ("tags", "system_tags"):
        if key in body:
            fields[key] = tag_list(call, key)
    if "output_dest" in body:
        task["output"] = {**(task.get("output") or {}), "destination": body["output_dest"]}
        fields["output.destination"] = body["output_dest"]
    task.update({k: v for k, v in fields.items() if "." not in k})
    execution = task.setdefault("execution", {})
    execution.setdefault("artifacts", [])
    models = task.setdefault("models", {})
    models.setdefault("input", [])
    models.setdefault("output", [])
    task["last_change"] = task["last_update"] = now_iso()
    return fields


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

    Raises:
        APIError: The current status does not allow the transition and ``force`` is off.
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
    if new in ("completed", "stopped", "failed", "published", "closed"):
        fields["completed"] = now
        if task.get("started"):
            fields["active_duration"] = None
    task.update(fields)
    return fields


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
    if task.get("status") in ("published", "publishing"):
        raise APIError(400, 113, f"Task is published: cannot {action} task {task['id']} (clone it instead)")


def merged_params(task: Data) -> list[Data]:
    params: list[Data] = []
    for section, items in (task.get("hyperparams") or {}).items():
        for name, item in items.items():
            params.append({"section": section, "name": name, **{k: v for k, v in item.items() if k != "name"}})
    return params
