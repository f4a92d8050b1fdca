"""``tasks.*`` parameters, configuration, artifacts and model references of a task."""

from __future__ import annotations

import copy
from typing import Any

from hpo.server._errors import validation
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.domain import require_draft
from hpo.server.routes._common import require
from hpo.server.routes.tasks._docs import merged_params
from hpo.server.routes.tasks._shared import task_for_edit

router = Router()


@router.endpoint("tasks.get_hyper_params")
def get_hyper_params(call: Call) -> Data:
    out = []
    for task_id in call.items("tasks"):
        task = require(call.store.tasks, "task", task_id)
        out.append({"task": task_id, "hyperparams": merged_params(task)})
    return {"params": out}


def _for_param_edit(call: Call, items: list[Any], what: str) -> Data:
    """The task, checked editable: a draft (or ``force``), except for ``properties`` alone (any status, as ClearML)."""
    task = task_for_edit(call)
    sections = {str(i.get("section", "")).lower() for i in items if isinstance(i, dict)}
    if sections != {"properties"}:
        require_draft(task, call.flag("force"), what=what)
    return task


def _param_items(call: Call, field: str) -> list[Data]:
    items = call.items(field)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise validation(f"each entry of '{field}' must be an object with a 'name'")
    return items


@router.endpoint("tasks.edit_hyper_params")
def edit_hyper_params(call: Call) -> Data:
    items = _param_items(call, "hyperparams")
    task = _for_param_edit(call, items, "edit the hyper-parameters of")
    replace = call.text("replace_hyperparams", required=False, default="none")
    params: dict[str, dict[str, Data]] = copy.deepcopy(task.get("hyperparams") or {})
    if replace == "all":
        params = {}
    elif replace == "section":
        for section in {str(i.get("section", "")) for i in items}:
            params.pop(section, None)
    for item in items:
        section = str(item.get("section", ""))
        value = {k: v for k, v in item.items() if k in ("section", "name", "value", "type", "description")}
        params.setdefault(section, {})[item["name"]] = {"section": section, **value}
    task["hyperparams"] = params
    task["last_update"] = task["last_change"] = now_iso()
    call.store.tasks.put(task)
    return {"updated": 1}


@router.endpoint("tasks.delete_hyper_params")
def delete_hyper_params(call: Call) -> Data:
    task = _for_param_edit(call, call.items("hyperparams"), "delete hyper-parameters of")
    params: dict[str, dict[str, Data]] = copy.deepcopy(task.get("hyperparams") or {})
    for item in call.items("hyperparams"):
        section = str(item.get("section", ""))
        if item.get("name"):
            params.get(section, {}).pop(item["name"], None)
        else:
            params.pop(section, None)
    task["hyperparams"] = params
    call.store.tasks.put(task)
    return {"deleted": 1}


@router.endpoint("tasks.get_configurations")
def get_configurations(call: Call) -> Data:
    names = set(call.items("names"))
    out = []
    for task_id in call.items("tasks"):
        task = require(call.store.tasks, "task", task_id)
        items = [
            {"name": name, **{k: v for k, v in item.items() if k != "name"}}
            for name, item in (task.get("configuration") or {}).items()
            if not names or name in names
        ]
        out.append({"task": task_id, "configuration": items})
    return {"configurations": out}


@router.endpoint("tasks.edit_configuration")
def edit_configuration(call: Call) -> Data:
    task = task_for_edit(call)
    require_draft(task, call.flag("force"), what="edit the configuration of")
    items = _param_items(call, "configuration")
    config: dict[str, Data] = (
        {} if call.flag("replace_configuration") else copy.deepcopy(task.get("configuration") or {})
    )
    for item in items:
        config[item["name"]] = {k: v for k, v in item.items() if k in ("name", "value", "type", "description")}
    task["configuration"] = config
    task["last_update"] = task["last_change"] = now_iso()
    call.store.tasks.put(task)
    return {"updated": 1}


@router.endpoint("tasks.delete_configuration")
def delete_configuration(call: Call) -> Data:
    task = task_for_edit(call)
    require_draft(task, call.flag("force"), what="delete the configuration of")
    config = copy.deepcopy(task.get("configuration") or {})
    for name in call.items("configuration"):
        config.pop(name, None)
    task["configuration"] = config
    call.store.tasks.put(task)
    return {"deleted": 1}


# ---- artifacts and models -----------------------------------------------------------------


@router.endpoint("tasks.add_or_update_artifacts")
def add_or_update_artifacts(call: Call) -> Data:
    task = task_for_edit(call)
    artifacts = call.items("artifacts")
    current = {(a.get("key"), a.get("mode", "output")): a for a in task.get("execution", {}).get("artifacts", [])}
    for artifact in artifacts:
        if not isinstance(artifact, dict) or not artifact.get("key") or not artifact.get("type"):
            raise validation("each artifact needs a 'key' and a 'type'")
        artifact = {"mode": "output", **artifact}
        current[(artifact["key"], artifact["mode"])] = artifact
    task["execution"] = {**task.get("execution", {}), "artifacts": list(current.values())}
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return {"updated": len(artifacts)}


@router.endpoint("tasks.delete_artifacts")
def delete_artifacts(call: Call) -> Data:
    task = task_for_edit(call)
    drop = {(a.get("key"), a.get("mode", "output")) for a in call.items("artifacts")}
    kept = [a for a in task.get("execution", {}).get("artifacts", []) if (a.get("key"), a.get("mode")) not in drop]
    task["execution"] = {**task.get("execution", {}), "artifacts": kept}
    call.store.tasks.put(task)
    return {"deleted": len(drop)}


@router.endpoint("tasks.add_or_update_model")
def add_or_update_model(call: Call) -> Data:
    task = task_for_edit(call)
    kind = call.text("type")
    if kind not in ("input", "output"):
        raise validation(f"'type' must be 'input' or 'output', got {kind!r}")
    ref = {"name": call.text("name"), "model": call.text("model")}
    require(call.store.models, "model", ref["model"])
    models = task.setdefault("models", {"input": [], "output": []})
    models[kind] = [m for m in models.get(kind, []) if m.get("name") != ref["name"]] + [ref]
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return {"updated": 1}


@router.endpoint("tasks.delete_models")
def delete_models(call: Call) -> Data:
    task = task_for_edit(call)
    drop = {(m.get("name"), m.get("type")) for m in call.items("models")}
    models = task.setdefault("models", {"input": [], "output": []})
    for kind in ("input", "output"):
        models[kind] = [m for m in models.get(kind, []) if (m.get("name"), kind) not in drop]
    call.store.tasks.put(task)
    return {"updated": 1}
