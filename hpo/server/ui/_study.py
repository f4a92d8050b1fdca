"""The study view of an optimizer task: the plots and tables it carries, its trials, live; stop; CSV.

The view computes no HPO analysis: the search's controller reports it onto the optimizer task as
ordinary ClearML plots (``Logger.report_plotly`` / ``report_table``), which this page shows grouped
in the order a reader wants them (history first, the trials table last). An optimizer task is any
task of type ``optimizer`` (ClearML's ``HyperParameterOptimizer`` makes them too); its trials are
its child tasks. What the search searched is read from the optimizer's configuration, as ClearML's
optimizer connects it (``parameter_optimization_space``).

The live page polls :func:`study_json` while the optimizer is live; the answer carries the view's
HTML again only when it changed. :func:`stop_search` ends a search through the API's own handlers,
as ``hpo stop`` does through the SDK: the optimizer task is stopped (its controller, seeing that,
ends the search), then its live trials (queued ones leave their queue).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hpo.server._errors import APIError
from hpo.server.domain import DRAFT_STATUS, LIVE_STATUSES
from hpo.server.ui import _charts, _events, _tasks
from hpo.server.ui._dispatch import Server, dispatch
from hpo.server.ui._render import ENV, NotFound

LIVE = LIVE_STATUSES
POLL_S = 3  # the page's refresh period while the search runs
COMPARE_MAX = 100  # what the compare page takes
SHOWN = 200  # trials listed on the page, best first, and every live one; the CSV has them all
COMPARE_TOP = (3, 5, 10, 25, 50)  # "Compare top N" links, and "all" when the compare page takes them
# Panels in reading order: a plot whose title holds a keyword of the first group comes first; others
# follow. ClearML's own optimizer reports "Optimization Objective", "Parallel Coordinates" and a
# "summary" table; the search's analysis (hpo.analysis) the rest.
ORDER = (
    ("notes",),  # what the analysis could not show
    ("optimization history", "optimization objective"),
    ("importance",),
    ("slice",),
    ("contour",),
    ("parallel coordinate",),
    ("pareto",),
    ("intermediate",),
    ("timeline",),
    ("cost",),
    ("trials", "summary"),
)
_NAME = re.compile(r"""\b["']?name["']?\s*[:=]\s*["']?([^"',}\n]+)""")
_STOP_REASON = "search stopped in the web UI"


def is_optimizer(task: dict[str, Any]) -> bool:
    return task.get("type") == "optimizer"


def _rank(title: str) -> int:
    lowered = title.lower()
    return next((i for i, words in enumerate(ORDER) if any(w in lowered for w in words)), len(ORDER))


def panels(server: Server, task_id: str) -> list[dict[str, Any]]:
    """The optimizer's plots and tables (the latest of each title/series), in reading order."""
    plots = _events.plots(server.store, task_id)
    for plot in plots:
        if not isinstance(plot["figure"], dict) or not isinstance(plot["figure"].get("data"), list):
            plot["figure"] = None  # said unreadable, not drawn empty
            plot["wide"] = False
            continue
        # a table reads best across the whole width, and so does a figure wider than a panel (a slice plot)
        width = _charts.fixed_width(plot["figure"])
        plot["wide"] = _charts.is_table(plot["figure"]) or (width is not None and width > _charts.PANEL_PX)
        plot["figure"] = _charts.fit_table(plot["figure"])
    return sorted(plots, key=lambda p: (_rank(str(p["title"])), str(p["title"]), str(p["series"])))


def searched_params(optimizer: dict[str, Any]) -> list[str] | None:
    """``Section/name`` of each searched parameter, from the optimizer's configuration; None if unknown."""
    for item in (optimizer.get("configuration") or {}).values():
        text = str((item or {}).get("value") or "")
        start = text.find("parameter_optimization_space")
        if start < 0:
            continue
        names = [m.group(1).strip() for m in _NAME.finditer(text[start:])]
        return list(dict.fromkeys(n for n in names if n))
    return None


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def cell(raw: str | None) -> tuple[str, str | None]:
    """A parameter value for reading: ``(shown, exact)``, a float rounded to 4 significant digits with its
    exact text for a tooltip (``exact`` is None when nothing was rounded)."""
    if raw is None:
        return "", None
    if _FLOAT.fullmatch(raw) and not _INT.fullmatch(raw):
        shown = f"{float(raw):.4g}"
        return (shown, raw) if shown != raw else (raw, None)
    return raw, None


def _child_params(child: dict[str, Any]) -> dict[str, str]:
    sections = (child.get("hyperparams") or {}).items()
    return {f"{s}/{n}": str(p.get("value", "")) for s, ps in sections if s != "properties" for n, p in ps.items()}


def trials(server: Server, optimizer: dict[str, Any]) -> dict[str, Any]:
    """The optimizer's child tasks, best objective first, with the searched parameters only."""
    from hpo.server.ui._pages import task_url  # the pages import this module

    objective = _tasks.objective_of(optimizer)
    queues = _tasks.queue_names(server.store)
    metric = f"{objective[0]}/{objective[1]}" if objective else ""
    rows: list[dict[str, Any]] = []
    for child in _tasks.children(server.store, str(optimizer["id"])):
        last = _tasks.last_metric(child, metric) if metric else None
        value = None if last is None else last.get("value")
        stopped_at = child.get("last_iteration") if child.get("status") == "stopped" else None
        queue = queues.get(str((child.get("execution") or {}).get("queue")), "")
        rows.append({"task": child, "value": value if isinstance(value, int | float) else None,
                     "params": _child_params(child), "stopped_at": stopped_at, "queue": queue})  # fmt: skip
    lower = objective is not None and objective[2].startswith("min")
    rows.sort(key=lambda r: (r["value"] is None, (r["value"] or 0.0) * (1 if lower else -1)))
    everything = sorted({k for r in rows for k in r["params"]})
    searched = searched_params(optimizer)
    columns = [k for k in searched if k in everything] if searched else everything
    constant = [k for k in columns if len(rows) > 1 and len({r["params"].get(k) for r in rows}) == 1]
    for row in rows:  # formatted here, not in the template: a 1,000-trial page renders fast
        row["params"] = {k: row["params"].get(k) for k in columns}
        row["cells"] = [cell(row["params"][k]) for k in columns]
        row["objective"] = None if row["value"] is None else (f"{row['value']:.4g}", repr(row["value"]))
        row["href"] = task_url(row["task"].get("project"), str(row["task"]["id"]), "log")
    ranked = [str(r["task"]["id"]) for r in rows if r["value"] is not None]
    sizes = {n for n in COMPARE_TOP if n < len(ranked)} | ({len(ranked)} if 2 <= len(ranked) <= COMPARE_MAX else set())
    top = {n: _compare_link(ranked[:n], metric) for n in sorted(sizes)}
    return {"objective": objective, "rows": rows, "columns": columns, "top": top, "searched_known": bool(searched),
            "constant": constant, "completed": len(ranked)}  # fmt: skip


def _compare_link(ids: list[str], metric: str) -> str:
    return "/compare?" + urlencode({"ids": ",".join(ids), **({"metric": metric} if metric else {})})


def missing(study: dict[str, Any]) -> list[str]:
    """What the view cannot show yet, in words (an empty panel never stands alone)."""
    trial_rows, out = study["trials"], []
    if not study["panels"]:
        out.append("The optimizer task carries no analysis yet: its plots appear here when its controller"
                   " reports them (as trials end).")  # fmt: skip
    if trial_rows["objective"] is None:
        out.append("The optimizer's configuration names no objective metric, so trials are not ranked.")
    if not trial_rows["rows"]:
        out.append("No trials yet.")
    elif not trial_rows["completed"]:
        out.append("No trial has reported the objective yet.")
    elif trial_rows["completed"] == 1:
        out.append("One trial has the objective: nothing to compare it with yet.")
    if trial_rows["constant"]:
        out.append("Never varied (one value in every trial): " + ", ".join(trial_rows["constant"]) + ".")
    return out


def context(server: Server, optimizer: dict[str, Any]) -> dict[str, Any]:
    """What ``_study.html`` renders for an optimizer task."""
    task_id = str(optimizer["id"])
    study: dict[str, Any] = {"panels": panels(server, task_id), "trials": trials(server, optimizer)}
    study["missing"] = missing(study)
    rows = study["trials"]["rows"]
    study["shown"] = rows[:SHOWN] + [r for r in rows[SHOWN:] if r["task"].get("status") in LIVE]
    study["hidden"] = len(rows) - len(study["shown"])
    return study


def _task(server: Server, task_id: str) -> dict[str, Any]:
    task = server.store.tasks.get(task_id)
    if task is None or not is_optimizer(task):
        raise NotFound("optimizer task", task_id)
    return task


def render(server: Server, optimizer: dict[str, Any]) -> str:
    """The refreshed part of the view (``_study.html``): autoescaped HTML."""
    from hpo.server.ui._pages import task_url  # the pages import this module

    study = context(server, optimizer)
    return ENV.get_template("_study.html").render(study=study, task=optimizer, task_url=task_url)


def page_context(server: Server, task: dict[str, Any], request: Request, notices: list[str]) -> dict[str, Any]:
    """The Info tab's study view of an optimizer task (nothing for other tasks)."""
    if not is_optimizer(task):
        return {"study_html": None}
    refused = request.query_params.get("refused")
    if refused:
        notices.append(f"Not stopped: {refused}")
    body = render(server, task)
    study = context_flags(server, task)
    return {"study_html": Markup(body), "study_version": version(server, task), **study}  # noqa: S704 - rendered, escaped


def context_flags(server: Server, task: dict[str, Any]) -> dict[str, Any]:
    live = task.get("status") in LIVE
    children = _tasks.children(server.store, str(task["id"]))
    stoppable = live or any(c.get("status") in LIVE for c in children)
    return {"study_live": live, "study_stoppable": stoppable, "study_poll": POLL_S}


def version(server: Server, optimizer: dict[str, Any]) -> str:
    """What the view shows changes only with these: the optimizer's and its trials' status and last update
    (every event a task reports, a plot included, moves its ``last_update``). Cheaper than rendering."""
    parts = [str(optimizer.get("status")), str(optimizer.get("last_update"))]
    for child in _tasks.children(server.store, str(optimizer["id"])):
        parts.append(f"{child['id']}:{child.get('status')}:{child.get('last_update')}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


async def study_json(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """The study view's HTML and whether the search is live; ``?since=<version>`` omits an unchanged HTML."""
    optimizer = _task(server, request.path_params["task"])
    current = version(server, optimizer)
    flags = context_flags(server, optimizer)
    answer: dict[str, Any] = {"version": current, "live": flags["study_live"], "stoppable": flags["study_stoppable"],
                              "status": optimizer.get("status")}  # fmt: skip
    if request.query_params.get("since") != current:
        answer["html"] = render(server, optimizer)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


async def trials_csv(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """The optimizer's child tasks as CSV: id, name, status, objective, searched parameters, times, queue."""
    optimizer = _task(server, request.path_params["task"])
    table = trials(server, optimizer)
    out = io.StringIO()
    writer = csv.writer(out)
    objective = table["objective"]
    writer.writerow(["id", "name", "status", f"{objective[0]}/{objective[1]}" if objective else "objective",
                     *table["columns"], "created", "started", "completed", "queue"])  # fmt: skip
    for row in table["rows"]:
        task = row["task"]
        writer.writerow([task["id"], task.get("name", ""), task.get("status", ""),
                         "" if row["value"] is None else repr(row["value"]),
                         *(row["params"][k] or "" for k in table["columns"]),
                         task.get("created") or "", task.get("started") or "", task.get("completed") or "",
                         row["queue"]])  # fmt: skip
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(optimizer.get("name") or optimizer["id"]))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}-trials.csv"'})  # fmt: skip


async def stop_search(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    """Stop the optimizer task, then every live trial (queued ones leave their queue), as ``hpo stop``.

    A controller that runs the search (``hpo search``) sees its optimizer task stopped and ends the
    search itself; a ClearML optimizer run by an agent is aborted by its agent.
    """
    from hpo.server.ui._pages import task_url

    optimizer = _task(server, request.path_params["task"])
    refused: list[str] = []
    if optimizer.get("status") in LIVE:  # first: its controller then launches no more trials
        refused += _stop(server, optimizer, force=True)
    for child in _tasks.children(server.store, str(optimizer["id"])):
        if child.get("status") in LIVE:
            refused += _stop(server, child, force=child.get("status") == DRAFT_STATUS)
    target = task_url(optimizer.get("project"), str(optimizer["id"]), "general")
    if refused:
        target += "?" + urlencode({"refused": "; ".join(refused)[:1500]})
    return RedirectResponse(target, status_code=303)


def _stop(server: Server, task: dict[str, Any], force: bool) -> list[str]:
    body = {"task": task["id"], "force": force, "status_reason": _STOP_REASON}
    try:
        dispatch(server, ("tasks.stop", body))
    except APIError as err:  # it ended meanwhile, or its status forbids it: say so, stop the others
        return [f"{task.get('name', task['id'])}: {err.msg}"]
    return []
