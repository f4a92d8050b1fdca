"""``projects.*``: a hierarchy of projects named by path (``a/b``), created implicitly for parents.

The tree itself (paths, implicit parents, sub-projects) is the domain's (``hpo.server.domain``).

Projects whose ``system_tags`` hold ``hidden`` (datasets live in ``P/.datasets/NAME``) are
returned only when the request sets ``search_hidden``.
"""

from __future__ import annotations

from typing import Any

from hpo.server import domain
from hpo.server._errors import APIError
from hpo.server._query import FieldRules, get_path, run_query
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.routes._common import editable, owner_fields, require, tag_list, updated

router = Router()

RULES = FieldRules(
    patterns=("name", "basename"),
    values=("id", "parent", "user"),
    tags=("tags", "system_tags"),
    ranges=("created", "last_update"),
)


def _visible(call: Call) -> list[Data]:
    # Asking for ids reveals hidden projects too (the SDK looks up dataset project names by id).
    if call.flag("search_hidden") or call.items("id"):
        return list(call.store.projects)
    return [p for p in call.store.projects if "hidden" not in p.get("system_tags", [])]


@router.endpoint("projects.create")
def create(call: Call) -> Data:
    name = call.text("name")
    if domain.project_by_name(call.store, name) is not None:
        raise APIError(409, 401, f"Project already exists: name={name}")
    extra: Data = {
        "description": call.text("description", required=False, default=""),
        "tags": tag_list(call, "tags"),
        "default_output_destination": call.opt_text("default_output_destination"),
    }
    system_tags = tag_list(call, "system_tags")
    project = domain.ensure_project(call.store, name, owner_fields(call), extra)
    if system_tags:
        project = {**project, "system_tags": sorted(set(project["system_tags"]) | set(system_tags))}
        call.store.projects.put(project)
    return {"id": project["id"]}


@router.endpoint("projects.get_by_id")
def get_by_id(call: Call) -> Data:
    return {"project": require(call.store.projects, "project", call.text("project"))}


def _with_stats(call: Call, projects: list[Data]) -> list[Data]:
    if not call.flag("include_stats"):
        return projects
    out = []
    for project in projects:
        ids = set(domain.descendants(call.store, [project["id"]]))
        counts: dict[str, int] = {}
        for task in call.store.tasks:
            if task.get("project") in ids:
                counts[task.get("status", "created")] = counts.get(task.get("status", "created"), 0) + 1
        active = {"status_count": counts, "total_tasks": sum(counts.values()), "total_runtime": 0}
        out.append({**project, "stats": {"active": active}})
    return out


@router.endpoint("projects.get_all", "projects.get_all_ex")
def get_all(call: Call) -> Data:
    body: dict[str, Any] = dict(call.body)
    docs = _visible(call)
    if body.get("shallow_search") and not body.get("parent"):
        docs = [p for p in docs if not p.get("parent")]
    projects, extra = run_query(docs, body, RULES)
    return {"projects": _with_stats(call, projects), **extra}


@router.endpoint("projects.update")
def update(call: Call) -> Data:
    project = editable(call.store.projects, "project", call.text("project"))
    fields: Data = {}
    for key in ("description", "default_output_destination"):
        if key in call.body:
            fields[key] = call.body[key]
    for key in ("tags", "system_tags"):
        if key in call.body:
            fields[key] = tag_list(call, key)
    if "name" in call.body and call.text("name") != project["name"]:
        raise APIError(400, 12, "Validation error: renaming projects is not supported by the embedded server")
    project.update(fields, last_update=now_iso())
    call.store.projects.put(project)
    return updated(fields)


def _active(docs: list[Data]) -> list[Data]:
    return [d for d in docs if "archived" not in (d.get("system_tags") or [])]


@router.endpoint("projects.delete")
def delete(call: Call) -> Data:
    """Delete a project and its sub-projects, as ClearML does.

    Without ``force`` a project holding tasks or models that are not archived stays. With
    ``force`` but without ``delete_contents`` its tasks and models are kept, detached from any
    project; only ``delete_contents`` deletes them (with their events).
    """
    project = require(call.store.projects, "project", call.text("project"))
    ids = set(domain.descendants(call.store, [project["id"]]))
    tasks = [t for t in call.store.tasks if t.get("project") in ids]
    models = [m for m in call.store.models if m.get("project") in ids]
    if (_active(tasks) or _active(models)) and not call.flag("force"):
        raise APIError(
            400,
            402,
            f"Project has tasks or models: project={project['name']}; archive them or pass force=true"
            " (add delete_contents=true to delete them too)",
        )
    result: Data = {"disassociated_tasks": 0, "deleted_tasks": 0, "deleted_models": 0}
    if call.flag("delete_contents"):
        for doc in tasks:
            domain.delete_task(call.store, doc)
        for doc in models:
            call.store.models.delete(doc["id"])
        result.update(deleted_tasks=len(tasks), deleted_models=len(models))
    else:
        for collection, docs in ((call.store.tasks, tasks), (call.store.models, models)):
            for doc in docs:
                detached = collection.editable(doc["id"])
                assert detached is not None
                detached.update(project=None, last_update=now_iso())
                collection.put(detached)
        result["disassociated_tasks"] = len(tasks)
    for pid in ids:
        call.store.projects.delete(pid)
    return {"deleted": len(ids), **result}


@router.endpoint("projects.get_hyper_parameters")
def hyper_parameters(call: Call) -> Data:
    ids = domain.descendants(call.store, [call.text("project")])
    seen: dict[tuple[str, str], Data] = {}
    for task in call.store.tasks:
        if task.get("project") in ids:
            for section, params in (task.get("hyperparams") or {}).items():
                for name in params:
                    seen[(section, name)] = {"section": section, "name": name}
    return {"parameters": list(seen.values()), "total": len(seen), "remaining": 0}


@router.endpoint("projects.get_unique_metric_variants")
def metric_variants(call: Call) -> Data:
    project = call.opt_text("project")
    ids = set(domain.descendants(call.store, [project])) if project else None
    seen: dict[tuple[str, str], Data] = {}
    for task in call.store.tasks:
        if ids is not None and task.get("project") not in ids:
            continue
        for metric_key, variants in (task.get("last_metrics") or {}).items():
            for variant_key, event in variants.items():
                metric = str(get_path(event, "metric"))
                variant = str(get_path(event, "variant"))
                seen[(metric, variant)] = {
                    "metric": metric,
                    "variant": variant,
                    "metric_hash": metric_key,
                    "variant_hash": variant_key,
                }
    return {"metrics": list(seen.values())}
