"""Read-only queries over the events table: console pages, downsampled scalars, plots.

Long scalar series are downsampled in SQL to every n-th iteration, chosen so that at most
:data:`MAX_POINTS` remain; that filter is answered from the events index alone, so a 200,000-point
series costs a few thousand row reads, not 200,000. The series' exact minimum and maximum points
(kept by the server in the task's ``last_metrics``) are added, so the extremes survive; a spike
between two kept iterations that is not an extreme does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hpo.server._router import Data
from hpo.server.routes.events import metric_key
from hpo.server.store import Store

SCALAR = "training_stats_scalar"
LOG = "log"
PLOT = "plot"
IMAGE = "training_debug_image"
MAX_POINTS = 5000
LOG_PAGE = 500
_SUMMARY_ITER = -(2**31)  # report_single_value's iteration


@dataclass(frozen=True)
class Series:
    title: str
    name: str
    x: list[int]
    y: list[float]
    total: int  # points stored; len(x) may be fewer


def scalar_series(store: Store, task: Data, titles: set[str] | None = None) -> list[Series]:
    """Every scalar series of a task, each downsampled to at most about :data:`MAX_POINTS` points."""
    task_id = str(task["id"])
    rows = store.db.query(
        "SELECT metric, variant, COUNT(*), MIN(iter), MAX(iter) FROM events"
        " WHERE task = ? AND type = ? AND iter != ? GROUP BY metric, variant ORDER BY metric, variant",
        (task_id, SCALAR, _SUMMARY_ITER),
    )
    out = []
    for title, name, count, low, high in rows:
        if titles is not None and title not in titles:
            continue
        points = _points(store, task_id, title, name, int(count), int(low), int(high))
        if int(count) > MAX_POINTS:
            points = sorted({*points, *_extremes(task, title, name)})
        out.append(Series(title, name, [p[0] for p in points], [p[1] for p in points], int(count)))
    return out


def _points(store: Store, task_id: str, title: str, name: str, count: int, low: int, high: int) -> list[Any]:
    where = "FROM events WHERE task = ? AND type = ? AND metric = ? AND variant = ? AND iter != ?"
    params: list[Any] = [task_id, SCALAR, title, name, _SUMMARY_ITER]
    if count <= MAX_POINTS:
        return [tuple(r) for r in store.db.query(f"SELECT iter, value {where} ORDER BY iter, seq", params)]
    # Every step-th iteration: the filter reads the index only, so just the kept rows are fetched.
    step = -(-(high - low + 1) // (MAX_POINTS - 2))
    sql = f"SELECT iter, value {where} AND (iter - ?) % ? = 0 ORDER BY iter, seq"
    return [tuple(r) for r in store.db.query(sql, [*params, low, step])]


def _extremes(task: Data, title: str, name: str) -> list[tuple[int, float]]:
    """The series' minimum and maximum points, which the server keeps in ``last_metrics``."""
    last = last_metric(task, title, name) or {}
    return [(int(last.get(f"{kind}_value_iteration") or 0), float(last[f"{kind}_value"]))
            for kind in ("min", "max") if isinstance(last.get(f"{kind}_value"), int | float)]  # fmt: skip


def last_metric(task: Data, title: str, series: str) -> Data | None:
    """The ``last_metrics`` entry (``value``, ``min_value``, ``max_value`` ...) of a series."""
    entry = ((task.get("last_metrics") or {}).get(metric_key(title)) or {}).get(metric_key(series))
    return entry if isinstance(entry, dict) else None


def single_values(store: Store, task_id: str) -> list[Data]:
    rows = store.db.query(
        "SELECT variant, value FROM events WHERE task = ? AND type = ? AND iter = ? ORDER BY seq",
        (task_id, SCALAR, _SUMMARY_ITER),
    )
    return [{"name": name, "value": value} for name, value in {r[0]: r[1] for r in rows}.items()]


def log_count(store: Store, task_id: str) -> int:
    return int(store.db.query("SELECT COUNT(*) FROM events WHERE task = ? AND type = ?", (task_id, LOG))[0][0])


def log_page(store: Store, task_id: str, page: int, size: int = LOG_PAGE) -> list[Data]:
    """Page ``page`` (1-based, oldest first) of a task's console lines."""
    rows = store.db.query(
        "SELECT body FROM events WHERE task = ? AND type = ? ORDER BY timestamp, seq LIMIT ? OFFSET ?",
        (task_id, LOG, size, (page - 1) * size),
    )
    out = []
    for (body,) in rows:
        event = json.loads(body)
        out.append({"level": event.get("level", "info"), "msg": str(event.get("msg", "")),
                    "timestamp": event.get("timestamp"), "worker": event.get("worker")})  # fmt: skip
    return out


def plots(store: Store, task_id: str) -> list[Data]:
    """The latest plot of each title and series; ``figure`` is the Plotly JSON the SDK sent."""
    rows = store.db.query(
        "SELECT metric, variant, iter, body FROM events WHERE task = ? AND type = ? ORDER BY seq", (task_id, PLOT)
    )
    latest: dict[tuple[str, str], Data] = {}
    for metric, variant, iteration, body in rows:
        event = json.loads(body)
        try:
            figure = json.loads(event.get("plot_str") or "{}")
        except ValueError:
            figure = None
        latest[(metric, variant)] = {"title": metric, "series": variant, "iter": iteration, "figure": figure}
    return list(latest.values())


def debug_images(store: Store, task_id: str) -> list[Data]:
    rows = store.db.query(
        "SELECT metric, variant, iter, body FROM events WHERE task = ? AND type = ? ORDER BY seq", (task_id, IMAGE)
    )
    latest: dict[tuple[str, str], Data] = {}
    for metric, variant, iteration, body in rows:
        latest[(metric, variant)] = {"title": metric, "series": variant, "iter": iteration,
                                     "url": str(json.loads(body).get("url") or "")}  # fmt: skip
    return list(latest.values())
