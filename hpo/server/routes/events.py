"""``events.*``: scalars, console lines, plots, tables and debug images reported by tasks.

Events are kept by the store's events table (``call.store.events``); scalar events also update
the task's ``last_metrics`` (last, min and max per title and series, keyed by md5 of the names as
ClearML does) and
``last_iteration`` in the same transaction, so a reader never sees one without the other.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from typing import Any

from hpo.server._errors import APIError, validation
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.routes._common import require
from hpo.server.store import Collection, Event, Store

router = Router()

SCALAR = "training_stats_scalar"
LOG = "log"
PLOT = "plot"
IMAGE = "training_debug_image"
VECTOR = "training_stats_vector"
EVENT_TYPES = (SCALAR, LOG, PLOT, IMAGE, VECTOR)
# The iteration the SDK reports single values (``Logger.report_single_value``) at.
_SINGLE_VALUE_ITER = -(2**31)


@lru_cache(maxsize=4096)
def metric_key(name: str) -> str:
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise validation(f"{what} must be a number, got {value!r}")
    return float(value)


def _update_last_metrics(task: Data, event: Data, value: float) -> None:
    metric, variant = str(event.get("metric", "")), str(event.get("variant", ""))
    iteration = int(event.get("iter") or 0)
    per_metric = task.setdefault("last_metrics", {}).setdefault(metric_key(metric), {})
    last = per_metric.get(metric_key(variant))
    if last is None:
        last = {"metric": metric, "variant": variant, "value": value, "min_value": value, "max_value": value,
                "min_value_iteration": iteration, "max_value_iteration": iteration, "first_value": value,
                "first_value_iteration": iteration, "count": 0}  # fmt: skip
    if iteration >= last.get("iter", -math.inf) or "iter" not in last:
        last["value"] = value
        last["iter"] = iteration
        last["timestamp"] = event.get("timestamp")
    if value < last["min_value"]:
        last["min_value"], last["min_value_iteration"] = value, iteration
    if value > last["max_value"]:
        last["max_value"], last["max_value_iteration"] = value, iteration
    last["count"] = int(last.get("count", 0)) + 1
    per_metric[metric_key(variant)] = last
    task["last_iteration"] = max(int(task.get("last_iteration") or 0), iteration)


def _owner(call: Call, entity_id: str, model_event: bool) -> Collection:
    """Where an event's ``task`` lives: model events (``OutputModel.report_*``) carry a model id there."""
    collection = call.store.models if model_event else call.store.tasks
    require(collection, "model" if model_event else "task", entity_id)
    return collection


@router.endpoint("events.add_batch", "events.add")
def add_batch(call: Call) -> Data:
    events = call.lines if call.lines is not None else ([call.body] if call.endpoint == "events.add" else [])
    if not events and call.endpoint == "events.add_batch" and not call.lines:
        raise APIError(400, 17, "Batch contains no items: send one JSON event per line")
    tasks: dict[str, Data] = {}
    owners: dict[str, Collection] = {}
    rows: list[Event] = []
    for event in events:
        task_id = str(event.get("task") or "")
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise validation(f"unknown event type {kind!r}; use one of {', '.join(EVENT_TYPES)}")
        if task_id not in tasks:
            owners[task_id] = _owner(call, task_id, bool(event.get("model_event")))
            editable = owners[task_id].editable(task_id)
            assert editable is not None
            tasks[task_id] = editable
        value = None
        if kind == SCALAR:
            value = _number(event.get("value"), "a scalar event's 'value'")
            _update_last_metrics(tasks[task_id], event, value)
        timestamp = event.get("timestamp")
        rows.append(Event(
            task_id, kind, str(event.get("metric") or ""), str(event.get("variant") or ""),
            int(event.get("iter") or 0), int(timestamp) if isinstance(timestamp, int | float) else 0, value, event,
        ))  # fmt: skip
    for task_id, task in tasks.items():
        task["last_update"] = now_iso()
        owners[task_id].put(task)
    call.store.events.add(rows)
    return {"added": len(rows), "errors": 0, "errors_info": {}}


def _scroll(events: list[Data], call: Call, default_size: int = 500) -> Data:
    size = call.integer("batch_size", default_size) or default_size
    scroll = call.opt_text("scroll_id")
    start = int(scroll) if scroll and scroll.isdigit() else 0
    page = events[start : start + size]
    return {"events": page, "returned": len(page), "total": len(events), "scroll_id": str(start + len(page))}


@router.endpoint("events.get_task_log")
def get_task_log(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    order = call.text("order", required=False, default="desc")
    lines = call.store.events.bodies(task["id"], LOG, desc=order == "desc")
    return _scroll(lines, call)


@router.endpoint("events.get_task_events")
def get_task_events(call: Call) -> Data:
    task = require(_owner(call, call.text("task"), call.flag("model_events")), "task", call.text("task"))
    kind = call.opt_text("event_type")
    kinds = [kind] if kind else list(EVENT_TYPES)
    events: list[Data] = []
    for each in kinds:
        events += call.store.events.bodies(task["id"], each)
    metrics = {m.get("metric") for m in call.items("metrics") if isinstance(m, dict)}
    if metrics:
        events = [e for e in events if e.get("metric") in metrics]
    events.sort(key=lambda e: (e.get("iter") or 0, e.get("timestamp") or 0))
    if call.text("order", required=False, default="asc") == "desc":
        events.reverse()
    return _scroll(events, call)


@router.endpoint("events.get_task_plots")
def get_task_plots(call: Call) -> Data:
    """Plots of the last ``iters`` iterations of each metric and variant."""
    task = require(_owner(call, call.text("task"), call.flag("model_events")), "task", call.text("task"))
    plots = call.store.events.bodies(task["id"], PLOT)
    metrics = {m.get("metric") for m in call.items("metrics") if isinstance(m, dict)}
    if metrics:
        plots = [p for p in plots if p.get("metric") in metrics]
    keep = call.integer("iters", 1) or 1
    iterations: dict[tuple[str, str], set[int]] = {}
    for plot in plots:
        iterations.setdefault((plot.get("metric", ""), plot.get("variant", "")), set()).add(int(plot.get("iter") or 0))
    latest = {key: set(sorted(iters)[-keep:]) for key, iters in iterations.items()}
    plots = [p for p in plots if int(p.get("iter") or 0) in latest[(p.get("metric", ""), p.get("variant", ""))]]
    return {"plots": plots, "returned": len(plots), "total": len(plots), "scroll_id": ""}


@router.endpoint("events.get_multi_task_plots")
def get_multi_task_plots(call: Call) -> Data:
    """Latest plot per task, metric and variant, keyed by task id."""
    out: Data = {}
    total = 0
    for task_id in call.items("tasks"):
        require(call.store.tasks, "task", task_id)
        for plot in call.store.events.bodies(task_id, PLOT):
            variants = out.setdefault(task_id, {}).setdefault(str(plot.get("metric", "")), {})
            variants[str(plot.get("variant", ""))] = [plot]
            total += 1
    return {"plots": out, "returned": total, "total": total, "scroll_id": ""}


@router.endpoint("events.debug_images")
def debug_images(call: Call) -> Data:
    metrics = call.items("metrics")
    task_ids = [m.get("task") for m in metrics if isinstance(m, dict)] or [call.text("task")]
    out = []
    for task_id in task_ids:
        require(call.store.tasks, "task", task_id)
        images = call.store.events.bodies(str(task_id), IMAGE)
        out.append({"task": task_id, "iterations": [{"iter": e.get("iter"), "events": [e]} for e in images]})
    return {"metrics": out, "scroll_id": ""}


@router.endpoint("events.get_task_metrics")
def get_task_metrics(call: Call) -> Data:
    kind = call.text("event_type", required=False, default=SCALAR)
    out = []
    for task_id in call.items("tasks"):
        require(call.store.tasks, "task", task_id)
        out.append({"task": task_id, "metrics": call.store.events.metric_names(task_id, kind)})
    return {"metrics": out}


def _scalar_series(store: Store, task_id: str) -> dict[str, dict[str, list[tuple[int, float]]]]:
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for metric, variant, iteration, value in store.events.points(task_id, SCALAR):
        series.setdefault(metric, {}).setdefault(variant, []).append((iteration, value))
    return series


@router.endpoint("events.scalar_metrics_iter_histogram")
def scalar_histogram(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    wanted = {m.get("metric") if isinstance(m, dict) else m for m in call.items("metrics")}
    out: Data = {}
    for metric, variants in _scalar_series(call.store, task["id"]).items():
        if wanted and metric not in wanted:
            continue
        out[metric] = {
            variant: {"name": variant, "x": [p[0] for p in points], "y": [p[1] for p in points]}
            for variant, points in variants.items()
        }
    return out


@router.endpoint("events.get_scalar_metrics_and_variants")
def scalar_metrics_and_variants(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    series = _scalar_series(call.store, task["id"])
    return {"metrics": {m: {v: {"name": v} for v in variants} for m, variants in series.items()}}


@router.endpoint("events.get_scalar_metric_data")
def scalar_metric_data(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    events = call.store.events.bodies(task["id"], SCALAR, metric=call.opt_text("metric"))
    return {"events": events, "returned": len(events), "total": len(events), "scroll_id": ""}


@router.endpoint("events.get_task_single_value_metrics")
def single_value_metrics(call: Call) -> Data:
    out = []
    for task_id in call.items("tasks"):
        require(call.store.tasks, "task", task_id)
        rows = call.store.events.at_iteration(task_id, SCALAR, _SINGLE_VALUE_ITER, "Summary")
        values = {(r[0], r[1]): {"metric": r[0], "variant": r[1], "value": r[2], "timestamp": r[3]} for r in rows}
        out.append({"task": task_id, "values": list(values.values())})
    return {"tasks": out}


@router.endpoint("events.delete_for_task")
def delete_for_task(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    call.store.events.delete_for(task["id"])
    return {"deleted": True}
