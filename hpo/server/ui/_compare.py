"""Comparing 2-10 experiments: parameters side by side, metric summaries, overlaid scalars,
parallel coordinates of the parameters against one metric."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hpo.server.ui import _charts, _events, _tasks
from hpo.server.ui._dispatch import Server
from hpo.server.ui._pages import task_or_404, task_url
from hpo.server.ui._render import html

MIN_TASKS, MAX_TASKS = 2, 10


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


def _metric_rows(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """last/min/max per metric; ``best`` holds the indexes of the highest last value (the lowest for
    a name that reads as a loss or error), empty when all are equal."""
    rows = []
    for key in _tasks.metric_names(tasks):
        lasts = [_tasks.last_metric(t, key) for t in tasks]
        values = [None if m is None else m.get("value") for m in lasts]
        known = [(v, i) for i, v in enumerate(values) if isinstance(v, int | float)]
        lower = any(word in key.lower() for word in ("loss", "error", "mse", "mae", "rmse"))
        target = (min(known) if lower else max(known))[0] if known else None
        ties = [i for v, i in known if v == target]
        best = ties if len(known) > 1 and len(ties) < len(known) else []
        rows.append({"key": key, "lasts": lasts, "best": best, "lower": lower})
    return rows


def _overlays(server: Server, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[str, list[tuple[str, _events.Series]]] = {}
    for task in tasks:
        for s in _events.scalar_series(server.store, task):
            grouped.setdefault(s.title, []).append((f"{task.get('name')} · {s.name}", s))
    return [_charts.scalar_figure(title, series) for title, series in sorted(grouped.items())]


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
    metric_rows = _metric_rows(tasks)
    metrics = [r["key"] for r in metric_rows]
    # validation metrics first, as a search's objective usually is one
    default = next((m for m in metrics if "val" in m.lower()), metrics[0] if metrics else "")
    metric = request.query_params.get("metric") or default
    if metrics and metric not in metrics:
        notices.append(f"metric={metric!r} was reported by none of these experiments; showing {default}")
        metric = default
    param_rows = _param_rows(tasks)
    parcoords = None
    if metric:
        with_metric = [(t, m) for t in tasks if (m := _tasks.last_metric(t, metric)) is not None]
        varying = [r["key"] for r in param_rows if r["differs"] and not r["key"].startswith("properties/")]
        if len(with_metric) > 1 and varying:
            parcoords = _charts.parallel_coordinates(
                [str(t.get("name")) for t, _ in with_metric],
                {key: [_tasks.param(t, key) for t, _ in with_metric] for key in varying},
                metric,
                [float(m.get("value") or 0.0) for _, m in with_metric],
            )
    return html(
        "compare.html",
        tasks=tasks,
        ids=",".join(ids),
        param_rows=param_rows,
        metric_rows=metric_rows,
        metrics=metrics,
        metric=metric,
        figures=_overlays(server, tasks),
        parcoords=parcoords,
        task_url=task_url,
        charts=True,
        **ctx,
    )
