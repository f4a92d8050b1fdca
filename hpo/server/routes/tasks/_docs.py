"""The task document: its defaults and the fields clients may set (statuses are ``hpo.server.domain``'s)."""

from __future__ import annotations

import copy

from hpo.server._errors import validation
from hpo.server._router import Call, Data, new_id, now_iso
from hpo.server.domain import TASK_TYPES
from hpo.server.routes._common import owner_fields, tag_list

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


def merged_params(task: Data) -> list[Data]:
    params: list[Data] = []
    for section, items in (task.get("hyperparams") or {}).items():
        for name, item in items.items():
            params.append({"section": section, "name": name, **{k: v for k, v in item.items() if k != "name"}})
    return params
