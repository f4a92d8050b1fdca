"""The UI's URL map, bound to one server's state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import plotly
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hpo.server import _files
from hpo.server._errors import APIError
from hpo.server.ui import _actions, _bulk, _catalog, _compare, _pages, _study
from hpo.server.ui._dispatch import Server
from hpo.server.ui._login import make_login, make_logout
from hpo.server.ui._render import NotFound, guarded, html
from hpo.server.ui._session import Sessions

_STATIC = Path(__file__).parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
ServerView = Callable[[Server, Request, dict[str, Any]], Awaitable[Response]]


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    path = PLOTLY_JS if name == f"plotly-{plotly.__version__}.min.js" else _STATIC / name
    if "/" in name or not path.is_file():
        return Response("not found", status_code=404)
    # versioned or tiny files: cache them for a day, so plotly.js (~5 MB) loads once
    return FileResponse(path, headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"})


async def _favicon(request: Request) -> Response:
    """Browsers ask every site for it, signed in or not."""
    return FileResponse(_STATIC / "favicon.ico", headers={"Cache-Control": "max-age=86400"})


async def _download(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    path = request.path_params["path"]
    try:
        target = _files._file(server.config.files_dir, path)  # the file server's own path checks
    except APIError as err:
        raise NotFound("file", "/" + path) from err
    return FileResponse(target, filename=target.name)


async def _home(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    return RedirectResponse("/projects", status_code=303)


async def _dataset(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """The dataset page link the SDK prints: the dataset's task, on its artifacts tab."""
    task = _pages.task_or_404(server, request.path_params["task"])
    return RedirectResponse(_pages.task_url(task.get("project"), str(task["id"]), "artifacts"), status_code=303)


async def _model_alias(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    model = server.store.models.get(request.path_params["model"])
    if model is None:
        raise NotFound("model", request.path_params["model"])
    return RedirectResponse(_pages.model_url(model.get("project"), str(model["id"])), status_code=303)


async def _not_found(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    return html("error.html", 404, title="Not found", message=f"No page at {request.url.path!r}.", **ctx)


def routes(server: Server) -> list[BaseRoute]:
    """The UI's routes, to mount before the API's catch-all route."""
    sessions = Sessions(server.credentials)

    def exclusive(view: ServerView) -> Callable[[Request, dict[str, Any]], Awaitable[Response]]:
        # API handlers run on the store thread: a view touches the store only while it holds it
        async def run(request: Request, ctx: dict[str, Any]) -> Response:
            async with server.exclusive_store():
                return await view(server, request, ctx)

        return run

    def page(view: ServerView) -> Any:
        return guarded(sessions, exclusive(view))

    def action(view: ServerView) -> Any:
        return guarded(sessions, exclusive(view))

    get, post = ["GET"], ["POST"]
    experiment = page(_pages.experiment_page)
    tasks = "/ui/actions/tasks/{task}"
    table: list[tuple[str, Any, list[str]]] = [
        ("/", page(_home), get),
        ("/login", make_login(sessions), ["GET", "POST"]),
        ("/logout", guarded(sessions, make_logout(sessions)), post),
        ("/ui/static/{name}", _static, get),
        ("/favicon.ico", _favicon, get),
        ("/ui/files/{path:path}", page(_download), get),
        ("/projects", page(_pages.projects_page), get),
        ("/projects/{project}", page(_pages.experiments_page), get),
        ("/projects/{project}/experiments", page(_pages.experiments_page), get),
        ("/projects/{project}/experiments/{task}", experiment, get),
        ("/projects/{project}/experiments/{task}/{rest:path}", experiment, get),
        ("/projects/{project}/tasks/{task}", experiment, get),  # the SDK's link from API 2.31 on
        ("/projects/{project}/tasks/{task}/{rest:path}", experiment, get),
        ("/projects/{project}/models", page(_catalog.models_page), get),
        ("/projects/{project}/models/{model}", page(_catalog.model_page), get),
        ("/projects/{project}/models/{model}/{tab}", page(_catalog.model_page), get),
        ("/models", page(_catalog.models_page), get),
        ("/models/{model}", page(_model_alias), get),
        ("/datasets/simple/{project}/experiments/{task}", page(_dataset), get),
        ("/compare", page(_compare.compare_page), get),
        ("/workers-and-queues", page(_catalog.queues_page), get),
        ("/workers-and-queues/{rest:path}", page(_catalog.queues_page), get),
        (f"{tasks}/clone", action(_actions.clone), post),
        (f"{tasks}/edit", action(_actions.edit_params), post),
        (f"{tasks}/enqueue", action(_actions.enqueue), post),
        (f"{tasks}/abort", action(_actions.abort), post),
        (f"{tasks}/reset", action(_actions.reset), post),
        (f"{tasks}/archive", action(_actions.archive), post),
        (f"{tasks}/tags", action(_actions.task_tags), post),
        ("/ui/actions/models/{model}/tags", action(_actions.model_tags), post),
        ("/ui/actions/tasks-bulk", action(_bulk.bulk), post),
        ("/ui/experiments.csv", page(_bulk.export_csv), get),
        (f"{tasks}/stop-search", action(_study.stop_search), post),
        ("/ui/study/{task}", page(_study.study_json), get),
        ("/ui/study/{task}/trials.csv", page(_study.trials_csv), get),
        ("/ui/{rest:path}", page(_not_found), ["GET", "POST"]),
    ]
    return [Route(path, endpoint, methods=methods) for path, endpoint, methods in table]
