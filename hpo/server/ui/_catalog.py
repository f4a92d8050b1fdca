"""Read-only pages of models, queues and workers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hpo.server.ui import _charts, _events, _tasks
from hpo.server.ui._dispatch import Server
from hpo.server.ui._pages import file_link, model_url, task_url
from hpo.server.ui._params import positive_int
from hpo.server.ui._render import NotFound, html

MODEL_PAGE = 100
HIGHLIGHT = ("champion", "best")


async def models_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    project = request.path_params.get("project", _tasks.ALL)
    if project != _tasks.ALL and server.store.projects.get(project) is None:
        raise NotFound("project", project)
    notices: list[str] = []
    show_archived = request.query_params.get("archived", "") in ("1", "true", "on")
    docs = [
        m
        for m in server.store.models
        if (project == _tasks.ALL or m.get("project") == project) and _tasks.archived(m) == show_archived
    ]
    tag = request.query_params.get("tag", "").strip()
    if tag:
        docs = [m for m in docs if tag in (m.get("tags") or [])]
    docs.sort(key=lambda m: str(m.get("created") or ""), reverse=True)
    pages = max(1, -(-len(docs) // MODEL_PAGE))
    page = positive_int(request.query_params, "page", 1, notices, high=pages)
    tasks = {str(m.get("task")): server.store.tasks.get(str(m.get("task"))) for m in docs}
    return html(
        "models.html",
        models=docs[(page - 1) * MODEL_PAGE : page * MODEL_PAGE],
        tasks=tasks,
        project=project,
        project_name=_tasks.project_name(server.store, project),
        page=page,
        pages=pages,
        tag=tag,
        show_archived=show_archived,
        highlight=HIGHLIGHT,
        model_url=model_url,
        task_url=task_url,
        notices=notices,
        **ctx,
    )


async def model_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    model_id = request.path_params["model"]
    model = server.store.models.get(model_id)
    if model is None:
        raise NotFound("model", model_id)
    task = server.store.tasks.get(str(model.get("task") or ""))
    plots = [p for p in _events.plots(server.store, model_id) if isinstance(p["figure"], dict)]
    for plot in plots:  # a reported table sized to its rows and columns
        plot["figure"] = _charts.fit_table(plot["figure"])
    return html(
        "model.html",
        model=model,
        task=task,
        project=request.path_params.get("project", _tasks.ALL),
        labels=sorted((model.get("labels") or {}).items(), key=lambda kv: kv[1]),
        metadata=sorted((model.get("metadata") or {}).values(), key=lambda m: str(m.get("key", ""))),
        plots=plots,
        weights=file_link(server, str(model.get("uri") or "")),
        highlight=HIGHLIGHT,
        task_url=task_url,
        archived=_tasks.archived(model),
        charts=bool(plots),
        **ctx,
    )


async def queues_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    queues = sorted(server.store.queues, key=lambda q: str(q.get("name", "")))
    entries = {
        str(q["id"]): [server.store.tasks.get(str(e.get("task"))) or {"id": e.get("task"), "name": "?"}
                       for e in q.get("entries") or []]
        for q in queues
    }  # fmt: skip
    names = _tasks.queue_names(server.store)
    workers = []
    for worker in sorted(server.runtime.workers.values(), key=lambda w: str(w.get("id"))):
        running = worker.get("task")
        task_id = running.get("id") if isinstance(running, dict) else running
        queue_names = [names.get(str(q), str(q)) for q in worker.get("queues") or []]
        workers.append({"id": worker.get("id"), "queues": queue_names,
                        "task": server.store.tasks.get(str(task_id)) if task_id else None,
                        "last_activity": worker.get("last_activity_time")})  # fmt: skip
    return html("queues.html", queues=queues, entries=entries, workers=workers, task_url=task_url, **ctx)
