"""``tasks.*``: create, read, query, edit, clone, delete and archive task documents."""

from __future__ import annotations

import copy
from typing import Any

from hpo.server import domain
from hpo.server._errors import validation
from hpo.server._query import FieldRules, candidates, run_query
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.domain import STATUSES, TASK_TYPES, reject_published, require_draft, set_status
from hpo.server.routes._common import editable, ids_of, owner_fields, require, tag_list, updated
from hpo.server.routes.tasks._docs import apply_fields, new_task
from hpo.server.routes.tasks._shared import project_id, task_for_edit

router = Router()

RULES = FieldRules(
    patterns=("name", "comment"),
    values=("id", "project", "status", "type", "parent", "user", "execution.queue", "last_worker"),
    tags=("tags", "system_tags"),
    ranges=("created", "last_update", "last_change", "started", "completed", "status_changed"),
)


@router.endpoint("tasks.create")
def create(call: Call) -> Data:
    name = call.text("name")
    task = new_task(call, name, project_id(call))
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
        body["project"] = domain.descendants(call.store, projects)
    statuses = [s for s in call.items("status") if s not in STATUSES and s != "unknown"]
    if statuses:
        raise validation(f"unknown status {statuses[0]!r}; use one of {', '.join(STATUSES)}")
    docs, body = candidates(call.store.tasks, body)
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
    task = task_for_edit(call)
    if call.endpoint == "tasks.edit":  # tasks.update (name, comment, tags ...) takes any status, as ClearML
        require_draft(task, call.flag("force"))
    else:
        reject_published(task, "update")
    if "project" in call.body:
        task["project"] = project_id(call)
    fields = apply_fields(call, task)
    if "output__error" in call.body:
        task["output"] = {**task.get("output", {}), "error": call.body["output__error"]}
    call.store.tasks.put(task)
    return updated(fields)


@router.endpoint("tasks.set_requirements")
def set_requirements(call: Call) -> Data:
    task = task_for_edit(call)
    requirements = call.mapping("requirements") or {}
    task["script"] = {**(task.get("script") or {}), "requirements": requirements}
    task["last_update"] = now_iso()
    call.store.tasks.put(task)
    return updated({"script.requirements": requirements})


@router.endpoint("tasks.clone")
def clone(call: Call) -> Data:
    source = require(call.store.tasks, "task", call.text("task"))
    project = call.opt_text("new_task_project") or source.get("project")
    new_project: Data | None = None
    if call.opt_text("new_project_name"):
        new_project = domain.ensure_project(call.store, call.text("new_project_name"), owner_fields(call))
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
    # ClearML: a clone is neither archived nor a development run (an agent runs it)
    task["system_tags"] = tag_list(call, "new_task_system_tags") or [
        t for t in source.get("system_tags", []) if t not in ("archived", "development")
    ]
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
    task = task_for_edit(call)
    domain.require_deletable(task, call.flag("force"))
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
    events = domain.delete_task(call.store, task)
    return {"deleted": True, "updated_children": 0, "updated_models": 0, "deleted_models": deleted_models,
            "events": {"deleted": events}, "urls": urls if call.flag("return_file_urls") else {}}  # fmt: skip


def _archive(call: Call, task_id: str) -> None:
    task = editable(call.store.tasks, "task", task_id)
    domain.remove_task_entry(call.store, task)
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
