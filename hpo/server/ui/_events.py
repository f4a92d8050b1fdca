"""Read-only views of a task's events: console pages, downsampled scalars, plots, debug images.

Long scalar series are downsampled to every n-th iteration, chosen so that at most
:data:`MAX_POINTS` remain; the store answers that filter from the events index alone
(``hpo.server.store.series_points``), so a 200,000-point series costs a few thousand row reads,
not 200,000. The series' exact minimum and maximum points (kept by the server in the task's
``last_metrics``) are added, so the extremes survive; a spike between two kept iterations that
is not an extreme does not. Event types and ``last_metrics`` are the domain's
(``hpo.server.domain``); the SQL is the store's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hpo.server import domain
from hpo.server._router import Data
from hpo.server.store import Store, page_by_time, series_bodies, series_extents, series_points, values_at

MAX_POINTS = 5000
LOG_PAGE = 500


@dataclass(frozen=True)
class Series:
    title: str
    name: str
    x: list[int]
    y: list[float]
    total: int  # points stored; len(x) may be fewer
    t: list[int | None] = field(default_factory=list)  # each point's timestamp (epoch ms), for a wall-time axis


def scalar_series(store: Store, task: Data, titles: set[str] | None = None) -> list[Series]:
    """Every scalar series of a task, each downsampled to at most about :data:`MAX_POINTS` points."""
    task_id = str(task["id"])
    out = []
    for title, name, count, low, high in series_extents(store, task_id, domain.SCALAR, domain.SINGLE_VALUE_ITER):
        if titles is not None and title not in titles:
            continue
        points = _points(store, task_id, title, name, count, low, high)
        if count > MAX_POINTS:
            kept = {(p[0], p[1]) for p in points}
            extra = [(i, v, None) for i, v in _extremes(task, title, name) if (i, v) not in kept]
            points = sorted([*points, *extra], key=lambda p: p[0])
        out.append(Series(title, name, [p[0] for p in points], [p[1] for p in points], count, [p[2] for p in points]))
    return out


def _points(
    store: Store, task_id: str, title: str, name: str, count: int, low: int, high: int
) -> list[tuple[int, float, int | None]]:
    every = None
    if count > MAX_POINTS:  # every step-th iteration, so at most MAX_POINTS - 2 plus the extremes
        every = (low, -(-(high - low + 1) // (MAX_POINTS - 2)))
    return series_points(store, task_id, domain.SCALAR, title, name, domain.SINGLE_VALUE_ITER, every)


def _extremes(task: Data, title: str, name: str) -> list[tuple[int, float]]:
    """The series' minimum and maximum points, which the server keeps in ``last_metrics``."""
    last = last_metric(task, title, name) or {}
    return [(int(last.get(f"{kind}_value_iteration") or 0), float(last[f"{kind}_value"]))
            for kind in ("min", "max") if isinstance(last.get(f"{kind}_value"), int | float)]  # fmt: skip


def last_metric(task: Data, title: str, series: str) -> Data | None:
    """The ``last_metrics`` entry (``value``, ``min_value``, ``max_value`` ...) of a series."""
    return domain.last_metric(task, title, series)


def single_values(store: Store, task_id: str) -> list[Data]:
    rows = values_at(store, task_id, domain.SCALAR, domain.SINGLE_VALUE_ITER)
    return [{"name": name, "value": value} for name, value in dict(rows).items()]


def log_count(store: Store, task_id: str) -> int:
    return store.events.count(task_id, domain.LOG)


def log_page(store: Store, task_id: str, page: int, size: int = LOG_PAGE) -> list[Data]:
    """Page ``page`` (1-based, oldest first) of a task's console lines."""
    out = []
    for event in page_by_time(store, task_id, domain.LOG, size, (page - 1) * size):
        out.append({"level": event.get("level", "info"), "msg": str(event.get("msg", "")),
                    "timestamp": event.get("timestamp"), "worker": event.get("worker")})  # fmt: skip
    return out


def plots(store: Store, owner_id: str) -> list[Data]:
    """The latest plot of each title and series of a task or model; ``figure`` is the Plotly JSON the SDK sent.

    A plot whose ``plot_str`` is not JSON has ``figure`` None.
    """
    latest: dict[tuple[str, str], Data] = {}
    for metric, variant, iteration, event in series_bodies(store, owner_id, domain.PLOT):
        try:
            figure = json.loads(event.get("plot_str") or "{}")
        except ValueError:
            figure = None
        latest[(metric, variant)] = {"title": metric, "series": variant, "iter": iteration, "figure": figure}
    return list(latest.values())


def debug_images(store: Store, task_id: str) -> list[Data]:
    latest: dict[tuple[str, str], Data] = {}
    for metric, variant, iteration, event in series_bodies(store, task_id, domain.IMAGE):
        latest[(metric, variant)] = {"title": metric, "series": variant, "iter": iteration,
                                     "url": str(event.get("url") or "")}  # fmt: skip
    return list(latest.values())
