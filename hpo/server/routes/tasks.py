"""``tasks.*``: task documents, their parameters, artifacts, models and status transitions."""

from __future__ import annotations

import copy
from typing import Any

from hpo.server._errors import APIError, validation
from hpo.server._query import FieldRules, run_query
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.routes import queues as queue_ops
from hpo.server.routes._common import editable, ids_of, require, tag_list, updated
from hpo.server.routes._task_docs import (
    STATUSES,
    TASK_TYPES,
    apply_fields,
    merged_params,
    new_task,
    reject_published,
    set_status,
)
from hpo.server.routes.events import delete_task_events
from hpo.server.routes.projects import descendants, ensure_project

router = Router()

RULES = FieldRules(
    patterns=("name", "comment"),
    values=("id", "project", "status", "type", "parent", "user", "execution.queue", "last_worker"),
    tags=("tags", "system_tags"),
    ranges=("created", "last_update", "started", "completed", "status_changed"),
)


def _task(call: Call, field: str = "task") -> Data:
    return editable(call.store.tasks, "task", call.body.get(field))


def _project_id(call: Call) -> str | None:
    project = call.opt_text("project")
    if project:
        require(call.store.projects, "project", project)
    return project


@router.endpoint("tasks.create")
def create(call: Call) -> Data:
    name = call.text("name")
    task = new_task(call, name, _project_id(call))
    task["type"] = call.text("type", required=False, default="training")
    apply_fields(call, task)
    call.store.tasks.put(task)
    return {"id": task["id"]}


@router.endpoint("tasks.get_by_id")
def get_by_id(call: Call) -> Data:
    return {"task": require(call.store.tasks, "task", call.text("task"))}


@router.endpoint("tasks.get_all", "tasks.get_all_ex")
def get_all(call: Call) -> Data:
    body: dict[str, Any] = dict(call.body)
    projects = call.items("project")
    if projects and call.flag("include_subprojects"):
        body["project"] = descendants(call.store, projects)
    statuses = [s for s in call.items("status") if s not in STATUSES and s != "unknown"]
    if statuses:
        raise validation(f"unknown status {statuses[0]!r}; use one of {', '.join(STATUSES)}")
    docs = call.store.tasks
    if not call.flag("search_hidden") and not call.items("id"):
        docs_list = [t for t in docs if "hidden" not in (t.get("system_tags") or [])]
    else:
        docs_list = list(docs)
    tasks, extra = run_query(docs_list, body, RULES)
    return {"tasks": tasks, **extra}


@router.endpoint("tasks.get_types")
def get_types(call: Call) -> Data:
    return {"types": sorted({t.get("type", "training") for t in call.store.tasks} | set(TASK_TYPES))}


@router.endpoint("tasks.edit", "tasks.update")
def edit(call: Call) -> Data:
    task = _task(call)
    reject_published(task, "edit")
    if "project" in call.body:
        task["project"] = _project_id(call)
    fields = apply_fields(call, task)
    if "output__error" in call.body:
        task["output"] = {**task.get("output", {}), "error": call.body["output__error"]}
    call.store.tasks.put(task)
    return updated(fields)


@router.endpoint("tasks.set_requirements")
def set_requirements(call: Call) -> Data:
    task = _task(call)
    requirements = call.mapping("requirements") or {}
    task["script"] = {**(task.get("script") or {}), "requirements": requirements}
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return updated({"script.requirements": requirements})


# ---- status transitions -------------------------------------------------------------------


def _transition(call: Call, new: str, allowed: tuple[str, ...] | None) -> Data:
    task = _task(call)
    fields = set_status(
        task,
        new,
        allowed_from=allowed,
        force=call.flag("force"),
        reason=call.opt_text("status_reason"),
        message=call.opt_text("status_message"),
    )
    return task | {"__fields__": fields}


def _save(call: Call, task: Data) -> Data:
    fields = task.pop("__fields__")
    call.store.tasks.put(task)
    return updated(fields)


@router.endpoint("tasks.started")
def started(call: Call) -> Data:
    task = _transition(call, "in_progress", ("created", "queued", "in_progress"))
    queue_ops.remove_task_entry(call.store, task)
    return {**_save(call, task), "started": 1}


@router.endpoint("tasks.completed")
def completed(call: Call) -> Data:
    task = _transition(call, "completed", ("in_progress", "created", "stopped", "queued"))
    queue_ops.remove_task_entry(call.store, task)
    return _save(call, task)


@router.endpoint("tasks.failed")
def failed(call: Call) -> Data:
    task = _transition(call, "failed", ("created", "queued", "in_progress", "stopped", "failed", "completed"))
    queue_ops.remove_task_entry(call.store, task)
    return _save(call, task)


@router.endpoint("tasks.stopped")
def stopped(call: Call) -> Data:
    task = _transition(call, "stopped", ("in_progress", "stopped", "queued", "created"))
    queue_ops.remove_task_entry(call.store, task)
    return _save(call, task)


@router.endpoint("tasks.close")
def close(call: Call) -> Data:
    return _save(call, _transition(call, "closed", ("stopped", "completed", "failed", "closed")))


@router.endpoint("tasks.publish")
def publish(call: Call) -> Data:
    task = _transition(call, "published", ("completed", "stopped", "failed", "published"))
    for ref in task.get("models", {}).get("output", []):
        model = call.store.models.editable(ref.get("model", ""))
        if model is not None:
            model["ready"] = True
            call.store.models.put(model)
    return _save(call, task)


@router.endpoint("tasks.stop")
def stop(call: Call) -> Data:
    """Abort: a running task is asked to stop (its agent or SDK ends it); others stop at once."""
    task = _task(call)
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
    task = _task(call)
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return {}


@router.endpoint("tasks.reset")
def reset(call: Call) -> Data:
    task = _task(call)
    reject_published(task, "reset")
    dequeued = queue_ops.remove_task_entry(call.store, task)
    deleted_events = delete_task_events(call.store, task["id"])
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
    task = _task(call)
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
    task = _task(call)
    if task.get("status") != "queued":
        if task.get("status") == "in_progress":
            return {**updated({}, 0), "dequeued": 0}
        raise APIError(400, 110, f"Invalid task status: task {task['id']} is '{task.get('status')}', not queued")
    queue_ops.remove_task_entry(call.store, task)
    fields = set_status(task, "created", reason=call.opt_text("status_reason") or "dequeued")
    task["execution"] = {**task.get("execution", {}), "queue": None}
    call.store.tasks.put(task)
    return {**updated(fields), "dequeued": 1}


# ---- clone, delete, archive ---------------------------------------------------------------


@router.endpoint("tasks.clone")
def clone(call: Call) -> Data:
    source = require(call.store.tasks, "task", call.text("task"))
    project = call.opt_text("new_task_project") or source.get("project")
    new_project: Data | None = None
    if call.opt_text("new_project_name"):
        new_project = ensure_project(call, call.text("new_project_name"))
        project = new_project["id"]
    elif project:
        require(call.store.projects, "project", project)
    task = new_task(call, call.opt_text("new_task_name") or f"{source['name']} (Clone)", project)
    for key in ("type", "script", "hyperparams", "configuration", "container", "comment"):
        task[key] = copy.deepcopy(source.get(key))
    execution = copy.deepcopy(source.get("execution") or {})
    execution["queue"] = None
    execution["artifacts"] = [a for a in execution.get("artifacts", []) if a.get("mode") == "input"]
    execution.update(call.mapping("execution_overrides") or {})
    task["execution"] = execution
    task["models"] = {"input": copy.deepcopy(source.get("models", {}).get("input", [])), "output": []}
    task["output"] = {"destination": source.get("output", {}).get("destination")}
    task["parent"] = call.opt_text("new_task_parent") or source["id"]
    task["tags"] = tag_list(call, "new_task_tags") if "new_task_tags" in call.body else list(source.get("tags", []))
    task["system_tags"] = (
        tag_list(call, "new_task_system_tags")
        if "new_task_system_tags" in call.body
        else [t for t in source.get("system_tags", []) if t != "archived"]
    )
    if call.opt_text("new_task_comment") is not None:
        task["comment"] = call.opt_text("new_task_comment")
    if call.mapping("new_task_hyperparams") is not None:
        task["hyperparams"] = call.mapping("new_task_hyperparams")
    if call.mapping("new_task_configuration") is not None:
        task["configuration"] = call.mapping("new_task_configuration")
    call.store.tasks.put(task)
    return {
        "id": task["id"],
        "new_project": {"id": new_project["id"], "name": new_project["name"]} if new_project else {},
    }


@router.endpoint("tasks.delete")
def delete(call: Call) -> Data:
    task = _task(call)
    if task.get("status") == "in_progress" and not call.flag("force"):
        raise APIError(400, 112, f"Task in progress: task {task['id']} is running (stop it or pass force=true)")
    queue_ops.remove_task_entry(call.store, task)
    events = delete_task_events(call.store, task["id"])
    urls: dict[str, list[str]] = {"artifact_urls": [], "model_urls": [], "event_urls": []}
    for artifact in task.get("execution", {}).get("artifacts", []):
        if artifact.get("uri"):
            urls["artifact_urls"].append(artifact["uri"])
    deleted_models = 0
    if call.flag("delete_output_models", True):
        for ref in task.get("models", {}).get("output", []):
            model = call.store.models.get(ref.get("model", ""))
            if model is not None and model.get("task") == task["id"] and not model.get("ready"):
                if model.get("uri"):
                    urls["model_urls"].append(model["uri"])
                call.store.models.delete(model["id"])
                deleted_models += 1
    call.store.tasks.delete(task["id"])
    return {"deleted": True, "updated_children": 0, "updated_models": 0, "deleted_models": deleted_models,
            "events": {"deleted": events}, "urls": urls if call.flag("return_file_urls") else {}}  # fmt: skip


def _archive(call: Call, task_id: str) -> None:
    task = editable(call.store.tasks, "task", task_id)
    queue_ops.remove_task_entry(call.store, task)
    if task.get("status") == "queued":
        set_status(task, "created", reason="archived")
    task["system_tags"] = sorted(set(task.get("system_tags", [])) | {"archived"})
    call.store.tasks.put(task)


@router.endpoint("tasks.archive")
def archive(call: Call) -> Data:
    ids = ids_of(call, "task", "tasks")
    for task_id in ids:
        _archive(call, task_id)
    return {"archived": len(ids)}


@router.endpoint("tasks.archive_many")
def archive_many(call: Call) -> Data:
    ids = ids_of(call, "task", "ids")
    for task_id in ids:
        _archive(call, task_id)
    return {"succeeded": [{"id": i, "archived": True} for i in ids], "failed": []}


# ---- parameters and configuration ---------------------------------------------------------


@router.endpoint("tasks.get_hyper_params")
def get_hyper_params(call: Call) -> Data:
    out = []
    for task_id in call.items("tasks"):
        task = require(call.store.tasks, "task", task_id)
        out.append({"task": task_id, "hyperparams": merged_params(task)})
    return {"params": out}


def _param_items(call: Call, field: str) -> list[Data]:
    items = call.items(field)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise validation(f"each entry of '{field}' must be an object with a 'name'")
    return items


@router.endpoint("tasks.edit_hyper_params")
def edit_hyper_params(call: Call) -> Data:
    task = _task(call)
    items = _param_items(call, "hyperparams")
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
    task = _task(call)
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
    task = _task(call)
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
    task = _task(call)
    config = copy.deepcopy(task.get("configuration") or {})
    for name in call.items("configuration"):
        config.pop(name, None)
    task["configuration"] = config
    call.store.tasks.put(task)
    return {"deleted": 1}


# ---- artifacts and models -----------------------------------------------------------------


@router.endpoint("tasks.add_or_update_artifacts")
def add_or_update_artifacts(call: Call) -> Data:
    task = _task(call)
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
    task = _task(call)
    drop = {(a.get("key"), a.get("mode", "output")) for a in call.items("artifacts")}
    kept = [a for a in task.get("execution", {}).get("artifacts", []) if (a.get("key"), a.get("mode")) not in drop]
    task["execution"] = {**task.get("execution", {}), "artifacts": kept}
    call.store.tasks.put(task)
    return {"deleted": len(drop)}


@router.endpoint("tasks.add_or_update_model")
def add_or_update_model(call: Call) -> Data:
    task = _task(call)
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
    task = _task(call)
    drop = {(m.get("name"), m.get("type")) for m in call.items("models")}
    models = task.setdefault("models", {"input": [], "output": []})
    for kind in ("input", "output"):
        models[kind] = [m for m in models.get(kind, []) if (m.get("name"), kind) not in drop]
    call.store.tasks.put(task)
    return {"updated": 1}
