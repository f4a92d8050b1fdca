"""``models.*``: model documents registered by ``OutputModel`` and found by ``Model.query_models``.

A model belongs to a project and, optionally, to the task that created it (``task``); the task
lists it in ``models.output`` (``tasks.add_or_update_model``). ``ready`` is ClearML's "published"
flag: ``models.create`` without it registers a ready model (ClearML's ``CreateModelRequest``
default; the SDK always sends ``ready: false``), and a ready model cannot be set ready again
(``400/203 model is ready``). ``metadata`` maps each key to ``{key, type, value}``. The weights
themselves live wherever ``uri`` points, usually the embedded file server.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from hpo.server import domain
from hpo.server._errors import APIError, validation
from hpo.server._query import FieldRules, run_query
from hpo.server._router import Call, Data, Router, new_id, now_iso
from hpo.server.routes._common import editable, owner_fields, require, tag_list, updated

router = Router()

RULES = FieldRules(
    patterns=("name", "comment"),
    values=("id", "project", "task", "framework", "uri", "user", "ready", "parent"),
    tags=("tags", "system_tags"),
    ranges=("created", "last_update"),
)

ARCHIVED = "archived"
# Fields models.create/edit/update copy as given; each replaces the stored value whole.
_STR_FIELDS = ("name", "comment", "framework", "uri", "parent")
_DICT_FIELDS = ("design", "labels", "ui_cache")
# Publishing a model publishes its creating task only from these task statuses (unless forced).
_PUBLISHABLE_TASK = ("stopped", "completed")


def _model(call: Call, doc_id: Any = None) -> Data:
    return editable(call.store.models, "model", doc_id if doc_id is not None else call.body.get("model"))


def _metadata(call: Call) -> dict[str, Data]:
    """The request's ``metadata`` list as ClearML stores it: ``{key: {key, type, value}}``."""
    items: dict[str, Data] = {}
    for item in call.items("metadata"):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise validation("each 'metadata' item must be an object with a non-empty 'key'")
        value = item.get("value")
        items[item["key"]] = {
            "key": item["key"],
            "type": item.get("type"),
            "value": value if value is None or isinstance(value, str) else str(value),
        }
    return items


def _apply_fields(call: Call, model: Data) -> Data:
    """Copy the editable fields present in the request onto ``model``; returns what changed."""
    fields: Data = {}
    body = call.body
    for key in _STR_FIELDS:
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise validation(f"'{key}' must be a string, got {type(body[key]).__name__}")
            fields[key] = body[key]
    for key in _DICT_FIELDS:
        if key in body:
            if body[key] is not None and not isinstance(body[key], dict):
                raise validation(f"'{key}' must be an object, got {type(body[key]).__name__}")
            fields[key] = copy.deepcopy(body[key]) if body[key] is not None else {}
    for key in ("tags", "system_tags"):
        if key in body:
            fields[key] = tag_list(call, key)
    if body.get("ready") is not None:
        fields["ready"] = call.flag("ready")
    if "created" in body and isinstance(body["created"], str):
        fields["created"] = body["created"]
    if "project" in body:
        project = call.opt_text("project")
        if project:
            require(call.store.projects, "project", project)
        fields["project"] = project
    if "task" in body:
        task = call.opt_text("task")
        if task:
            require(call.store.tasks, "task", task)
        fields["task"] = task
    if "metadata" in body:
        fields["metadata"] = _metadata(call)
    if call.body.get("iteration") is not None:
        fields["last_iteration"] = call.integer("iteration")
    model.update(fields)
    model["last_update"] = now_iso()
    if "labels" in fields:
        model["stats"] = {"labels_count": len(model["labels"])}
    return fields


def new_model(call: Call, name: str) -> Data:
    """A model document with ClearML's defaults, owned by the caller."""
    return {
        "id": new_id(),
        "name": name,
        "comment": "",
        **owner_fields(call),
        "project": None,
        "task": None,
        "parent": None,
        "framework": None,
        "design": {},
        "labels": {},
        "uri": None,
        "ready": False,
        "tags": [],
        "system_tags": [],
        "metadata": {},
        "last_iteration": 0,
        "last_metrics": {},
        "stats": {"labels_count": 0},
        "ui_cache": {},
    }


def _link_to_task(call: Call, model: Data, task_id: str) -> None:
    """List ``model`` among the task's output models (replacing an entry of the same name)."""
    task = editable(call.store.tasks, "task", task_id)
    models = task.setdefault("models", {})
    output = [m for m in models.get("output", []) if m.get("model") != model["id"] and m.get("name") != model["name"]]
    models["output"] = [*output, {"name": model["name"], "model": model["id"]}]
    models.setdefault("input", [])
    task["last_update"] = now_iso()
    call.store.tasks.put(task)


def _raise_task_iteration(call: Call, task_id: str, iteration: int | None) -> None:
    """Raise the task's ``last_iteration`` to ``iteration`` (ClearML's ``last_iteration_max``)."""
    if iteration is None:
        return
    task = call.store.tasks.editable(task_id)
    if task is not None and iteration > int(task.get("last_iteration") or 0):
        task["last_iteration"] = iteration
        task["last_update"] = now_iso()
        call.store.tasks.put(task)


# ---- create, read -------------------------------------------------------------------------


@router.endpoint("models.create")
def create(call: Call) -> Data:
    call.text("uri")
    model = new_model(call, call.text("name"))
    model["ready"] = True  # ClearML's default when the request leaves "ready" out
    _apply_fields(call, model)
    call.store.models.put(model)
    return {"id": model["id"], "created": True}


@router.endpoint("models.update_for_task")
def update_for_task(call: Call) -> Data:
    """Attach an existing model (``override_model_id``) or a new one (``uri``) to a task's outputs."""
    task = require(call.store.tasks, "task", call.text("task"))
    override, uri = call.opt_text("override_model_id"), call.opt_text("uri")
    if bool(override) == bool(uri):
        raise validation("give exactly one of 'uri' or 'override_model_id'")
    created = override is None
    if override is not None:
        model = _model(call, override)
        # The model keeps its creating task: here "task" names the task that now lists it.
        fields = _apply_fields(
            dataclasses.replace(call, body={k: v for k, v in call.body.items() if k != "task"}), model
        )
    else:
        model = new_model(call, call.opt_text("name") or task["name"])
        model["project"] = task.get("project")
        fields = _apply_fields(call, model)
    call.store.models.put(model)
    _link_to_task(call, model, task["id"])
    _raise_task_iteration(call, task["id"], fields.get("last_iteration"))
    return {"id": model["id"], "created": created, **updated(fields)}


@router.endpoint("models.get_by_id")
def get_by_id(call: Call) -> Data:
    return {"model": require(call.store.models, "model", call.text("model"))}


@router.endpoint("models.get_by_task_id")
def get_by_task_id(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    outputs = task.get("models", {}).get("output", [])
    for ref in reversed(outputs):
        model = call.store.models.get(ref.get("model", ""))
        if model is not None:
            return {"model": model}
    raise APIError(400, 201, f"Invalid model id: task {task['id']} has no output model")


@router.endpoint("models.get_all", "models.get_all_ex")
def get_all(call: Call) -> Data:
    body: dict[str, Any] = dict(call.body)
    projects = call.items("project")
    if projects and call.flag("include_subprojects"):
        body["project"] = domain.descendants(call.store, projects)
    # Model.query_models(metadata={k: v}) filters on "metadata.<k>.value" fields.
    metadata_fields = tuple(k for k in body if k.startswith("metadata.") and k.endswith(".value"))
    rules = FieldRules(RULES.patterns, RULES.values + metadata_fields, RULES.tags, RULES.ranges)
    models, extra = run_query(call.store.models, body, rules)
    return {"models": models, **extra}


@router.endpoint("models.get_frameworks")
def get_frameworks(call: Call) -> Data:
    projects = set(call.items("projects"))
    found = {m.get("framework") for m in call.store.models if not projects or m.get("project") in projects}
    return {"frameworks": sorted(f for f in found if f)}


# ---- change -------------------------------------------------------------------------------


@router.endpoint("models.edit", "models.update")
def edit(call: Call) -> Data:
    model = _model(call)
    fields = _apply_fields(call, model)
    call.store.models.put(model)
    if model.get("task"):
        _raise_task_iteration(call, model["task"], fields.get("last_iteration"))
    return updated(fields)


@router.endpoint("models.add_or_update_metadata")
def add_or_update_metadata(call: Call) -> Data:
    model = _model(call)
    if "metadata" not in call.body:
        raise APIError(400, 11, "Validation error: missing required field 'metadata'")
    items = _metadata(call)
    model["metadata"] = items if call.flag("replace_metadata") else {**(model.get("metadata") or {}), **items}
    model["last_update"] = now_iso()
    call.store.models.put(model)
    return {"updated": 1}


@router.endpoint("models.delete_metadata")
def delete_metadata(call: Call) -> Data:
    model = _model(call)
    keys = call.items("keys")
    metadata = {k: v for k, v in (model.get("metadata") or {}).items() if k not in keys}
    changed = len(metadata) != len(model.get("metadata") or {})
    model["metadata"] = metadata
    model["last_update"] = now_iso()
    call.store.models.put(model)
    return {"updated": int(changed)}


@router.endpoint("models.move")
def move(call: Call) -> Data:
    name = call.opt_text("project_name")
    project = domain.ensure_project(call.store, name, owner_fields(call))["id"] if name else call.opt_text("project")
    if project:
        require(call.store.projects, "project", project)
    for model_id in call.items("ids"):
        model = _model(call, model_id)
        model["project"] = project
        model["last_update"] = now_iso()
        call.store.models.put(model)
    return {"project_id": project}


@router.endpoint("models.make_public", "models.make_private")
def make_public(call: Call) -> Data:
    # One company per server: every model is already visible to every user.
    return {"updated": len([require(call.store.models, "model", i) for i in call.items("ids")])}


# ---- publish, archive, delete -------------------------------------------------------------


def _publish(call: Call, model_id: Any, publish_task: bool, force_task: bool) -> Data | None:
    """Set ``ready``; publish the creating task when asked and allowed. Returns the task result.

    Raises:
        APIError: 400/203 when the model is ready already (ClearML's ``ModelIsReady``); 400/110
            when its task cannot be published and ``force_task`` is off.
    """
    model = _model(call, model_id)
    if model.get("ready"):
        raise APIError(400, 203, f"Model is ready: model {model['id']} is published already; nothing to do")
    task = call.store.tasks.editable(model["task"]) if publish_task and model.get("task") else None
    if task is not None and task.get("status") not in (*_PUBLISHABLE_TASK, "published") and not force_task:
        raise APIError(
            400,
            110,
            f"Invalid task status: cannot publish model {model['id']} with its task {task['id']}, which is "
            f"'{task.get('status')}' (pass force_publish_task=true or publish_task=false)",
        )
    model["ready"] = True
    model["last_update"] = now_iso()
    call.store.models.put(model)
    if task is None or task.get("status") == "published":
        return None
    fields = domain.set_status(task, "published", force=True, reason="model published")
    call.store.tasks.put(task)
    return {"id": task["id"], "data": updated(fields)}


@router.endpoint("models.set_ready")
def set_ready(call: Call) -> Data:
    published = _publish(call, call.text("model"), call.flag("publish_task", True), call.flag("force_publish_task"))
    return {"updated": 1, **({"published_task": published} if published else {})}


@router.endpoint("models.publish_many")
def publish_many(call: Call) -> Data:
    publish_task, force = call.flag("publish_tasks", True), call.flag("force_publish_task")
    succeeded, failed = [], []
    for model_id in call.items("ids"):
        try:
            published = _publish(call, model_id, publish_task, force)
        except APIError as err:
            failed.append(_failure(model_id, err))
            continue
        succeeded.append({"id": model_id, "updated": 1, **({"published_task": published} if published else {})})
    return {"succeeded": succeeded, "failed": failed}


def _failure(doc_id: Any, err: APIError) -> Data:
    return {"id": str(doc_id), "error": {"codes": [err.code, err.subcode], "msg": err.msg, "data": err.extra}}


def _set_archived(call: Call, archived: bool) -> Data:
    succeeded, failed = [], []
    for model_id in call.items("ids"):
        try:
            model = _model(call, model_id)
        except APIError as err:
            failed.append(_failure(model_id, err))
            continue
        tags = set(model.get("system_tags") or [])
        model["system_tags"] = sorted(tags | {ARCHIVED} if archived else tags - {ARCHIVED})
        model["last_update"] = now_iso()
        call.store.models.put(model)
        succeeded.append({"id": model_id, "archived" if archived else "unarchived": True})
    return {"succeeded": succeeded, "failed": failed}


@router.endpoint("models.archive_many")
def archive_many(call: Call) -> Data:
    return _set_archived(call, True)


@router.endpoint("models.unarchive_many")
def unarchive_many(call: Call) -> Data:
    return _set_archived(call, False)


def _uses(task: Data, model_id: str, kind: str = "input") -> bool:
    return any(m.get("model") == model_id for m in (task.get("models") or {}).get(kind) or [])


def _delete(call: Call, model_id: Any, force: bool) -> Data:
    model = require(call.store.models, "model", model_id)
    users = [t["id"] for t in call.store.tasks if t["id"] != model.get("task") and _uses(t, model["id"])]
    creator = call.store.tasks.get(model["task"]) if model.get("task") else None
    if not force and (users or (creator is not None and creator.get("status") == "published")):
        why = f"tasks {', '.join(users)} use it as an input model" if users else "its creating task is published"
        raise APIError(400, 205, f"Model in use: model {model['id']} cannot be deleted: {why} (pass force=true)")
    # Tasks that listed it as an output forget it; input references stay, as in ClearML.
    listing = [t["id"] for t in call.store.tasks if _uses(t, model["id"], "output")]
    for task_id in listing:
        task = editable(call.store.tasks, "task", task_id)
        task["models"]["output"] = [m for m in task["models"]["output"] if m.get("model") != model["id"]]
        call.store.tasks.put(task)
    call.store.events.delete_for(model["id"])
    call.store.models.delete(model["id"])
    return {"deleted": True, "url": model.get("uri")}


@router.endpoint("models.delete")
def delete(call: Call) -> Data:
    return _delete(call, call.text("model"), call.flag("force"))


@router.endpoint("models.delete_many")
def delete_many(call: Call) -> Data:
    succeeded, failed = [], []
    for model_id in call.items("ids"):
        try:
            succeeded.append({"id": model_id, **_delete(call, model_id, call.flag("force"))})
        except APIError as err:
            failed.append(_failure(model_id, err))
    return {"succeeded": succeeded, "failed": failed}
