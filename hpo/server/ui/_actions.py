"""POST actions, each through the API's own handlers (:func:`~hpo.server.ui._dispatch.dispatch`).

The status rules (what may be enqueued, reset, stopped, and that only a draft's configuration is
editable: clone anything else first) are the handlers'. A form with a value of the wrong type
changes nothing and comes back with the field marked.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hpo.server.ui._dispatch import Server, dispatch
from hpo.server.ui._pages import experiment_page, task_or_404, task_url
from hpo.server.ui._params import check_value
from hpo.server.ui._render import NotFound

EDIT_PREFIX = "hp:"


def _form(ctx: dict[str, Any]) -> FormData:
    form = ctx["form"]
    assert isinstance(form, FormData)
    return form


def _back(server: Server, task_id: str, tab: str = "general") -> Response:
    task = server.store.tasks.get(task_id) or {}
    return RedirectResponse(task_url(task.get("project"), task_id, tab), status_code=303)


async def clone(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    source = task_or_404(server, request.path_params["task"])
    name = str(_form(ctx).get("name") or "").strip() or f"{source.get('name')} (Clone)"
    (result,) = dispatch(server, ("tasks.clone", {"task": source["id"], "new_task_name": name}))
    return _back(server, str(result["id"]), "hyper-params")


async def enqueue(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    task = task_or_404(server, request.path_params["task"])
    queue = str(_form(ctx).get("queue") or "")
    dispatch(server, ("tasks.enqueue", {"task": task["id"], "queue": queue}))
    return _back(server, str(task["id"]))


def _simple(endpoint: str, extra: dict[str, Any] | None = None, tab: str = "general") -> Any:
    async def action(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
        task = task_or_404(server, request.path_params["task"])
        dispatch(server, (endpoint, {"task": task["id"], **(extra or {})}))
        return _back(server, str(task["id"]), tab)

    return action


abort = _simple("tasks.stop", {"status_reason": "aborted in the web UI"})
reset = _simple("tasks.reset")
archive = _simple("tasks.archive")


def _tags(current: list[str], form: FormData) -> list[str]:
    add = [t.strip() for t in str(form.get("add") or "").split(",") if t.strip()]
    remove = {str(t) for t in form.getlist("remove")}
    return [t for t in dict.fromkeys([*current, *add]) if t not in remove]


async def task_tags(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    task = task_or_404(server, request.path_params["task"])
    tags = _tags(list(task.get("tags") or []), _form(ctx))
    # tags may change in any status, as ClearML's tasks.update allows; force skips the running-task guard
    dispatch(server, ("tasks.edit", {"task": task["id"], "tags": tags, "force": True}))
    return _back(server, str(task["id"]))


async def model_tags(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    model = server.store.models.get(request.path_params["model"])
    if model is None:
        raise NotFound("model", request.path_params["model"])
    tags = _tags(list(model.get("tags") or []), _form(ctx))
    dispatch(server, ("models.edit", {"model": model["id"], "tags": tags}))
    project = model.get("project") or "*"
    return RedirectResponse(f"/projects/{project}/models/{model['id']}/general", status_code=303)


async def edit_params(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """Save a draft's hyper-parameters (types kept), then enqueue it if a queue was chosen."""
    task = task_or_404(server, request.path_params["task"])
    form = _form(ctx)
    items, errors = [], {}
    for section, params in (task.get("hyperparams") or {}).items():
        for name, entry in params.items():
            key = f"{EDIT_PREFIX}{section}/{name}"
            if key not in form:
                continue
            raw = str(form.get(key))
            problem = check_value(f"{section}/{name}", str(entry.get("type") or ""), raw)
            if problem:
                errors[f"{section}/{name}"] = problem.message
            items.append({**entry, "section": section, "name": name, "value": raw})
    if errors:
        typed = {k[len(EDIT_PREFIX) :]: str(v) for k, v in form.items() if k.startswith(EDIT_PREFIX)}
        ctx.update(edit_errors=errors, edit_values=typed)
        project = task.get("project") or "*"
        request.scope["path_params"] = {**request.path_params, "project": project, "rest": "hyper-params"}
        response = await experiment_page(server, request, ctx)
        response.status_code = 400
        return response
    calls: list[tuple[str, dict[str, Any]]] = [("tasks.edit_hyper_params", {"task": task["id"], "hyperparams": items})]
    queue = str(form.get("queue") or "")
    if queue:
        calls.append(("tasks.enqueue", {"task": task["id"], "queue": queue}))
    dispatch(server, *calls)
    return _back(server, str(task["id"]), "general" if queue else "hyper-params")
