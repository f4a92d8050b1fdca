"""Comparing 2-100 experiments, as ClearML's compare view: parameters side by side (identical rows
hidden on request), metric summaries, a parameter-vs-metric scatter, parallel coordinates of the
parameters against one metric, overlaid scalars.

"Best" is marked only on a metric whose direction is known: the objective of the search the
compared tasks belong to (their parent optimizer task's ``objective_metric_*`` arguments,
:func:`~hpo.server.ui._tasks.objective_of`). A metric's name never decides it: ``cv/accuracy_se``
or ``timing/fit_seconds`` are neither higher- nor lower-is-better by their names.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hpo.server.ui import _charts, _events, _tasks
from hpo.server.ui._dispatch import Server
from hpo.server.ui._pages import task_or_404, task_url
from hpo.server.ui._render import html

MIN_TASKS, MAX_TASKS = 2, 100
MAX_OVERLAID = 25  # scalar overlays of more tasks are unreadable and heavy: the first ones are drawn


def _ids(request: Request) -> list[str]:
    raw = ",".join(request.query_params.getlist("ids"))
    return list(dict.fromkeys(i.strip() for i in raw.split(",") if i.strip()))


def _param_rows(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = _tasks.param_names(tasks)
    rows = []
    for key in keys:
        values = [_tasks.param(t, key) for t in tasks]
        rows.append({"key": key, "values": values, "differs": len({v for v in values}) > 1})
    return rows


def directions(server: Server, tasks: list[dict[str, Any]]) -> dict[str, bool]:
    """``title/series`` -> lower is better, for the objectives of the searches these tasks are trials of.

    A metric two searches optimise in opposite directions gets no direction.
    """
    found: dict[str, set[bool]] = {}
    for parent_id in {str(t.get("parent") or "") for t in tasks} - {""}:
        parent = server.store.tasks.get(parent_id)
        objective = _tasks.objective_of(parent) if parent else None
        if objective:
            title, series, sign = objective
            found.setdefault(f"{title}/{series}", set()).add(sign.lower().startswith("min"))
    return {key: next(iter(signs)) for key, signs in found.items() if len(signs) == 1}


def _metric_rows(tasks: list[dict[str, Any]], lower_is_better: dict[str, bool]) -> list[dict[str, Any]]:
    """last/min/max per metric; ``best`` holds the indexes of the best last value where the direction
    is known (``lower``: True, False, or None when unknown), empty on a tie of all."""
    rows = []
    for key in _tasks.metric_names(tasks):
        lasts = [_tasks.last_metric(t, key) for t in tasks]
        values = [None if m is None else m.get("value") for m in lasts]
        known = [(v, i) for i, v in enumerate(values) if isinstance(v, int | float)]
        lower = lower_is_better.get(key)
        best: list[int] = []
        if lower is not None and len(known) > 1:
            target = (min(known) if lower else max(known))[0]
            ties = [i for v, i in known if v == target]
            best = ties if len(ties) < len(known) else []
        seen = {None if m is None else (m.get("value"), m.get("min_value"), m.get("max_value")) for m in lasts}
        rows.append({"key": key, "lasts": lasts, "best": best, "lower": lower, "differs": len(seen) > 1})
    return rows


def scatter(tasks: list[dict[str, Any]], param: str, metric: str) -> dict[str, Any] | None:
    """A Plotly scatter of ``param`` (x; categories when not all numeric) against ``metric``'s last value."""
    points: list[tuple[dict[str, Any], str, float]] = []
    for task in tasks:
        x, last = _tasks.param(task, param), _tasks.last_metric(task, metric) or {}
        y = last.get("value")
        if x is not None and isinstance(y, int | float):
            points.append((task, x, float(y)))
    if not points:
        return None
    numeric = all(_tasks.as_number(x) is not None for _, x, _ in points)
    xs: list[Any] = [_tasks.as_number(x) if numeric else x for _, x, _ in points]
    trace = {"type": "scatter", "mode": "markers", "x": xs, "y": [y for _, _, y in points],
             "text": [str(t.get("name")) for t, _, _ in points], "marker": {"size": 10},
             "hovertemplate": "%{text}<br>" + param + "=%{x}<br>" + metric + "=%{y}<extra></extra>"}  # fmt: skip
    layout = {"title": {"text": f"{metric} vs {param}"}, "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
              "xaxis": {"title": {"text": param}, **({} if numeric else {"type": "category"})},
              "yaxis": {"title": {"text": metric}}}  # fmt: skip
    return {"data": [trace], "layout": layout}


def _overlays(server: Server, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[str, list[tuple[str, _events.Series]]] = {}
    for task in tasks[:MAX_OVERLAID]:
        for s in _events.scalar_series(server.store, task):
            grouped.setdefault(s.title, []).append((f"{task.get('name')} · {s.name}", s))
    return [_charts.scalar_figure(title, series) for title, series in sorted(grouped.items())]


def _parcoords(tasks: list[dict[str, Any]], param_rows: list[dict[str, Any]], metric: str) -> Any:
    with_metric = [(t, m) for t in tasks if (m := _tasks.last_metric(t, metric)) is not None]
    varying = [r["key"] for r in param_rows if r["differs"] and not r["key"].startswith("properties/")]
    if len(with_metric) < 2 or not varying:
        return None
    return _charts.parallel_coordinates(
        [str(t.get("name")) for t, _ in with_metric],
        {key: [_tasks.param(t, key) for t, _ in with_metric] for key in varying},
        metric,
        [float(m.get("value") or 0.0) for _, m in with_metric],
    )


def _choice(request: Request, name: str, options: list[str], default: str, notices: list[str]) -> str:
    value = request.query_params.get(name) or default
    if options and value not in options:
        notices.append(f"{name}={value!r} is not among these experiments' {name}s; showing {default}")
        return default
    return value


async def compare_page(server: Server, request: Request, ctx: dict[str, Any]) -> Response:
    ids = _ids(request)
    notices: list[str] = ctx.setdefault("notices", [])
    if len(ids) > MAX_TASKS:
        notices.append(f"ids: {len(ids)} experiments given; comparing the first {MAX_TASKS}")
        ids = ids[:MAX_TASKS]
    tasks = [task_or_404(server, i) for i in ids]
    if len(tasks) < MIN_TASKS:
        message = (f"ids: give {MIN_TASKS} to {MAX_TASKS} experiment ids (got {len(tasks)}); "
                   "select rows in an experiments table and press Compare")  # fmt: skip
        return html("error.html", 400, title="Compare", message=message, **ctx)
    lower_is_better = directions(server, tasks)
    metric_rows = _metric_rows(tasks, lower_is_better)
    metrics = [r["key"] for r in metric_rows]
    # the search's objective first, else validation metrics, as a search's objective usually is one
    default = next((m for m in metrics if m in lower_is_better), None)
    default = default or next((m for m in metrics if "val" in m.lower()), metrics[0] if metrics else "")
    metric = _choice(request, "metric", metrics, default, notices)
    param_rows = _param_rows(tasks)
    varying = [r["key"] for r in param_rows if r["differs"]] or [r["key"] for r in param_rows]
    x_param = _choice(request, "param", [r["key"] for r in param_rows], varying[0] if varying else "", notices)
    hide = request.query_params.get("hide_identical", "") in ("1", "true", "on")
    if len(tasks) > MAX_OVERLAID:
        notices.append(f"scalars: overlaid for the first {MAX_OVERLAID} of {len(tasks)} experiments")
    return html(
        "compare.html",
        tasks=tasks,
        ids=",".join(ids),
        param_rows=[r for r in param_rows if r["differs"]] if hide else param_rows,
        metric_rows=[r for r in metric_rows if r["differs"]] if hide else metric_rows,
        hidden_rows=sum(not r["differs"] for r in param_rows + metric_rows) if hide else 0,
        hide_identical=hide,
        metrics=metrics,
        metric=metric,
        params=[r["key"] for r in param_rows],
        x_param=x_param,
        scatter=scatter(tasks, x_param, metric) if metric and x_param else None,
        figures=_overlays(server, tasks),
        parcoords=_parcoords(tasks, param_rows, metric) if metric else None,
        task_url=task_url,
        charts=True,
        **ctx,
    )
