"""Read-only queries over the events table: console pages, downsampled scalars, plots.

Long scalar series are downsampled in SQL: the iteration range is cut into buckets and each
bucket keeps its minimum and its maximum point (SQLite returns the other columns of the row that
holds a bare ``MIN``/``MAX``), so spikes survive and a series never ships more than
:data:`MAX_POINTS` points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hpo.server._router import Data
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


def scalar_series(store: Store, task_id: str, titles: set[str] | None = None) -> list[Series]:
    """Every scalar series of a task, each downsampled to at most :data:`MAX_POINTS` points."""
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
        out.append(Series(title, name, [p[0] for p in points], [p[1] for p in points], int(count)))
    return out


def _points(store: Store, task_id: str, title: str, name: str, count: int, low: int, high: int) -> list[Any]:
    where = "FROM events WHERE task = ? AND type = ? AND metric = ? AND variant = ? AND iter != ?"
    params: list[Any] = [task_id, SCALAR, title, name, _SUMMARY_ITER]
    if count <= MAX_POINTS:
        return store.db.query(f"SELECT iter, value {where} ORDER BY iter, seq", params)
    buckets = MAX_POINTS // 2
    width = max(1, high - low + 1)
    bucket = f"((iter - {low}) * {buckets} / {width})"
    picked: dict[tuple[int, int], float] = {}
    for agg in ("MIN", "MAX"):
        for _, iteration, value in store.db.query(
            f"SELECT {bucket} AS b, iter, {agg}(value) {where} GROUP BY b", params
        ):
            picked[(iteration, 0 if agg == "MIN" else 1)] = value
    return [(key[0], value) for key, value in sorted(picked.items())]


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
