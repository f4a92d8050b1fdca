"""The read-only pages: projects, experiments table, experiment tabs, models, queues and workers.

Tabs live at the paths ClearML's web app uses and the SDK prints
(``/projects/<project>/experiments/<task>/output/log`` ...); older aliases redirect.
"""

from __future__ import annotations

import heapq
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hpo.server.ui import _bulk, _charts, _events, _study, _tasks
from hpo.server.ui._dispatch import Server
from hpo.server.ui._params import link_params, positive_int, table_query
from hpo.server.ui._render import NotFound, html

TABS = {
    "execution": "Execution",
    "hyper-params": "Configuration",
    "general": "Info",
    "log": "Console",
    "scalars": "Scalars",
    "plots": "Plots",
    "debugImages": "Debug samples",
    "artifacts": "Artifacts",
    "models": "Models",
}
# ClearML's older and alternative tab paths, as its web app redirects them.
ALIASES = {
    "": "execution",
    "info-output": "log",
    "info-output/log": "log",
    "info-output/metrics/scalar": "scalars",
    "info-output/metrics/plots": "plots",
    "info-output/debugImages": "debugImages",
    "metrics/scalar": "scalars",
    "metrics/plots": "plots",
}


def task_url(project: str | None, task_id: str, tab: str = "log") -> str:
    prefix = "output/" if tab in ("log", "scalars", "plots", "debugImages") else ""
    return f"/projects/{project or _tasks.ALL}/experiments/{task_id}/{prefix}{tab}"


def model_url(project: str | None, model_id: str) -> str:
    return f"/projects/{project or _tasks.ALL}/models/{model_id}/general"


def task_or_404(server: Server, task_id: str) -> dict[str, Any]:
    task = server.store.tasks.get(task_id)
    if task is None:
        raise NotFound("experiment", task_id)
    return task


def resolve_tab(rest: str) -> tuple[str, str]:
    """(tab, sub-path) of what follows ``experiments/<task>/``; raises NotFound for unknown tabs."""
    rest = rest.strip("/")
    if rest.startswith("output/"):
        rest = rest[len("output/") :]
    if rest in ALIASES:
        return ALIASES[rest], ""
    tab, _, sub = rest.partition("/")
    if tab not in TABS:
        raise NotFound("experiment tab", rest)
    return tab, sub


async def projects_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    rows = _tasks.projects(server.store)
    total = sum(r.tasks for r in rows)
    hidden = request.query_params.get("hidden", "") in ("1", "true", "on")  # ClearML's "show hidden projects"
    return html("projects.html", projects=rows, total=total, show_hidden=hidden, **ctx)


async def experiments_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    project = request.path_params["project"]
    if project != _tasks.ALL and server.store.projects.get(project) is None:
        raise NotFound("project", project)
    query, notices = table_query(project, request.query_params)
    notices.extend(_bulk.take_results(request.query_params.get("done")))
    rows, count, scope = _tasks.select_tasks(server.store, server.runtime, query)
    pages = max(1, -(-count // query.size))
    if query.page > pages:
        notices.append(f"page={query.page} is past the last page ({pages}); showing page 1")
        query.page = 1
        rows, count, scope = _tasks.select_tasks(server.store, server.runtime, query)
    queues, workers = _tasks.queue_names(server.store), _tasks.workers_by_task(server.runtime)
    # column and tag choices from the 500 newest tasks keep a 10,000-task page fast
    sample = scope if len(scope) <= 500 else heapq.nlargest(500, scope, key=lambda t: str(t.get("created") or ""))
    return html(
        "experiments.html",
        project=project,
        project_name=_tasks.project_name(server.store, project),
        rows=[_row(t, query.columns, queues, workers) for t in rows],
        count=count,
        pages=pages,
        q=query,
        params=link_params(query),
        statuses=_tasks.STATUSES,
        metric_choices=_tasks.metric_names(sample),
        param_choices=_tasks.param_names(sample),
        notices=notices,
        task_url=task_url,
        **_bulk.table_choices(server, sample),
        **ctx,
    )


def _row(task: dict[str, Any], columns: list[str], queues: dict[str, str], workers: dict[str, str]) -> dict[str, Any]:
    extra = [_bulk.cell(task, col) for col in columns]  # (shown, exact)
    worker = workers.get(str(task["id"])) or str(task.get("last_worker") or "")  # where it ran, once it ended
    return {"task": task, "duration": _fmt_duration(_tasks.duration_s(task)), "extra": extra,
            "queue": queues.get(str((task.get("execution") or {}).get("queue")), ""), "worker": worker}  # fmt: skip


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def experiment_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    task = task_or_404(server, request.path_params["task"])
    rest = request.path_params.get("rest", "")
    tab, sub = resolve_tab(rest)
    if not rest.strip("/") and _study.is_optimizer(task):
        tab = "general"  # an optimizer's page opens on its study view
    project = request.path_params["project"]
    canonical = task_url(project, str(task["id"]), tab)
    bare = rest.strip("/")
    if bare in ALIASES or bare.removeprefix("output/") in ALIASES:
        return RedirectResponse(canonical, status_code=303)
    ctx.setdefault("edit_errors", {})
    ctx.setdefault("edit_values", {})
    tab_ctx = _tab_context(server, task, tab, sub, request, ctx.setdefault("notices", []))
    queues = sorted(_tasks.queue_names(server.store).items(), key=lambda kv: kv[1])
    return html(
        "experiment.html",
        task=task,
        project=project,
        project_name=_tasks.project_name(server.store, task.get("project")),
        tab=tab,
        tabs=TABS,
        task_url=task_url,
        model_url=model_url,
        queues=queues,
        archived=_tasks.archived(task),
        charts=tab in ("scalars", "plots") or (tab == "general" and _study.is_optimizer(task)),
        **tab_ctx,
        **ctx,
    )


def _tab_context(server: Server, task: dict[str, Any], tab: str, sub: str, request: Request, notices: list[str]) -> Any:
    store, task_id = server.store, str(task["id"])
    if tab == "log":
        total = _events.log_count(store, task_id)
        pages = max(1, -(-total // _events.LOG_PAGE))
        page = positive_int(request.query_params, "page", pages, notices, high=pages)
        return {"lines": _events.log_page(store, task_id, page), "page": page, "pages": pages, "total": total}
    if tab == "scalars":
        figures = [
            _charts.scalar_figure(title, [(s.name, s) for s in group])
            for title, group in _charts.by_title(_events.scalar_series(store, task)).items()
        ]
        return {"figures": figures, "single": _events.single_values(store, task_id)}
    if tab == "plots":
        plots = _events.plots(store, task_id)
        for plot in plots:  # a table sized to its rows and columns
            plot["figure"] = _charts.fit_table(plot["figure"]) if isinstance(plot["figure"], dict) else plot["figure"]
        return {"plots": plots}
    if tab == "debugImages":
        return {"images": [{**i, "href": file_link(server, i["url"])} for i in _events.debug_images(store, task_id)]}
    if tab == "artifacts":
        artifacts = (task.get("execution") or {}).get("artifacts") or []
        return {"artifacts": [{**a, "href": file_link(server, str(a.get("uri") or ""))} for a in artifacts]}
    if tab == "models":
        return {"model_refs": _model_refs(server, task)}
    if tab == "general":
        parent = store.tasks.get(str(task.get("parent") or ""))
        queue = _tasks.queue_names(store).get(str((task.get("execution") or {}).get("queue")), "")
        worker = _tasks.workers_by_task(server.runtime).get(task_id, "")
        duration = _fmt_duration(_tasks.duration_s(task))
        general = {"parent": parent, "queue": queue, "worker": worker, "duration": duration}
        return {**general, **_study.page_context(server, task, request, notices)}
    return {"section": sub}


def _model_refs(server: Server, task: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in ("input", "output"):
        refs = []
        for ref in (task.get("models") or {}).get(kind) or []:
            model = server.store.models.get(str(ref.get("model") or ""))
            refs.append({"name": ref.get("name"), "model": model, "id": ref.get("model")})
        out[kind] = refs
    return out


def file_link(server: Server, uri: str) -> str | None:
    """The UI download path of a file on this server's file server (under any address it is reached at), else None."""
    path = server.config.files_path(uri)
    return None if path is None else "/ui/files/" + path
