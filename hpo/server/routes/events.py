"""``events.*``: scalars, console lines, plots, tables and debug images reported by tasks.

Events are kept by the store's events table (``call.store.events``), which keys every event but a
console line by type, task, iteration, metric and variant as ClearML does: a batch sent twice is
stored once. Scalar events also update the task's ``last_metrics`` (last, min and max per title
and series, keyed by md5 of the names as ClearML does) and ``last_iteration`` in the same
transaction, so a reader never sees one without the other. ``events.add_batch`` stores the valid
events of a batch and reports the others, as ClearML does.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from hpo.server._errors import APIError, validation
from hpo.server._router import Call, Data, Router, now_iso
from hpo.server.domain import (
    EVENT_TYPES,
    IMAGE,
    LOG,
    PLOT,
    SCALAR,
    SINGLE_VALUE_ITER,
    fold_scalars,
)
from hpo.server.routes._common import require
from hpo.server.routes._event_pages import (
    MAX_SAMPLES,
    downsample,
    event_iteration,
    image_iterations,
    iso_time,
    read_scroll,
    write_scroll,
)
from hpo.server.store import Collection, Event, Store

router = Router()

_LOG_PAGE = 5000  # ClearML's default batch_size of events.get_task_log
_DEFAULT_SAMPLES = 2000  # ClearML's default samples of scalar_metrics_iter_histogram
# What add_batch changes in place on a task or model: only its last_metrics dict (update_last_metrics
# copies on write below it; last_iteration and last_update are replaced). All else stays shared.
_CHANGED = ("last_metrics",)


def _owner(call: Call, entity_id: str, model_event: bool) -> Collection:
    """Where an event's ``task`` lives: model events (``OutputModel.report_*``) carry a model id there."""
    collection = call.store.models if model_event else call.store.tasks
    require(collection, "model" if model_event else "task", entity_id)
    return collection


@router.endpoint("events.add_batch", "events.add")
def add_batch(call: Call) -> Data:
    """Store every valid event of a batch; answer the others in ``errors_info``, as ClearML does.

    A batch with no valid event fails as ClearML's ``events_not_added``; otherwise the answer is
    200 with ``added``, ``errors`` and ``errors_info`` (each problem and how many events had it).
    Events the transport refused against the request schema (``call.rejected``) count as errors.
    """
    events = call.lines if call.lines is not None else ([call.body] if call.endpoint == "events.add" else [])
    if not events and not call.rejected:
        raise APIError(400, 17, "Batch contains no items: send one JSON event per line")
    errors: Counter[str] = Counter(call.rejected)
    docs: dict[tuple[str, bool], Data | None] = {}
    scalars: dict[tuple[str, bool], list[tuple[Data, float]]] = {}
    valid: list[Data] = []
    for event in events:
        problem = _event_problem(call, event, docs, scalars)
        if problem:
            errors[problem] += 1
            continue
        valid.append(event)
    for owner, folded in scalars.items():
        doc = docs[owner]
        if doc is not None:  # always: a scalar joins scalars only once its owner was found
            fold_scalars(doc, folded)  # the domain's rule: last, min, max, mean per series
    rows = [_event_row(event) for event in valid]
    stored = {row.task for row in rows}
    for (owner_id, model_event), doc in docs.items():
        if doc is not None and owner_id in stored:
            doc["last_update"] = now_iso()
            (call.store.models if model_event else call.store.tasks).put(doc)
    if not rows:
        raise APIError(400, 131, f"Events not added: {_summary(errors)}", dict(errors))
    call.store.events.add(rows)
    return {"added": len(rows), "errors": sum(errors.values()), "errors_info": dict(errors)}


def _event_problem(
    call: Call,
    event: Data,
    docs: dict[tuple[str, bool], Data | None],
    scalars: dict[tuple[str, bool], list[tuple[Data, float]]],
) -> str | None:
    """Why ClearML would not store ``event`` (None when it is stored).

    Loads its task or model into ``docs``; a valid scalar joins its owner's ``scalars``, to fold
    into ``last_metrics`` once the batch is checked.
    """
    kind = event.get("type")
    if kind is None:
        return "Event must have a 'type' field"
    kind = str(kind).replace(" ", "_")
    if kind not in EVENT_TYPES:
        return f"Invalid event type {kind}"
    event["type"] = kind
    model_event = event.get("model_event") is True
    if model_event and "model" in event:  # ClearML's other spelling of a model event's owner
        event["task"] = event.pop("model")
    if model_event and kind == LOG:
        return "Task log events are not supported for models"
    owner_id = event.get("task")
    if owner_id is None:
        return "Event must have a 'task' field"
    what = "model" if model_event else "task"
    if not isinstance(owner_id, str) or not owner_id:
        return f"Invalid {what} id {owner_id}"
    if (owner_id, model_event) not in docs:
        owners = call.store.models if model_event else call.store.tasks
        docs[(owner_id, model_event)] = owners.editable_fields(owner_id, _CHANGED)
    doc = docs[(owner_id, model_event)]
    if doc is None:
        return f"Invalid {what} id {owner_id}"
    if kind == SCALAR:
        value = event.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"A scalar event's value must be a number, got {type(value).__name__}"
        scalars.setdefault((owner_id, model_event), []).append((event, float(value)))
    return None


def _event_row(event: Data) -> Event:
    """The stored form of a valid event; fills in the timestamp, as ClearML does, when none was sent."""
    if not isinstance(event.get("timestamp"), int | float) or isinstance(event.get("timestamp"), bool):
        event["timestamp"] = int(time.time() * 1000)
    kind, key = event["type"], event.get("key")
    value = float(event["value"]) if kind == SCALAR else None
    return Event(
        event["task"], kind, str(event.get("metric") or ""), str(event.get("variant") or ""),
        event_iteration(event), int(event["timestamp"]), value, event,
        key if kind == IMAGE and isinstance(key, str) else None,
    )  # fmt: skip


def _summary(errors: Counter[str]) -> str:
    return "; ".join(f"{problem} ({count})" for problem, count in errors.most_common(5))


def _scroll(events: list[Data], call: Call, default_size: int = 500) -> Data:
    size = call.integer("batch_size", default_size) or default_size
    scroll = call.opt_text("scroll_id")
    start = int(scroll) if scroll and scroll.isdigit() else 0
    page = events[start : start + size]
    return {"events": page, "returned": len(page), "total": len(events), "scroll_id": str(start + len(page))}


@router.endpoint("events.get_task_log")
def get_task_log(call: Call) -> Data:
    """Console lines as ClearML 2.9+ pages them: by timestamp, from the latest back unless told otherwise.

    ``navigate_earlier`` (default true) takes the ``batch_size`` latest lines before
    ``from_timestamp`` (else the earliest after it); ``order`` then sorts the page (``asc``: oldest
    first). So the SDK's ``get_reported_console_output(n)`` gets the last n lines, oldest first.
    """
    task = require(call.store.tasks, "task", call.text("task"))
    size = max(1, call.integer("batch_size") or _LOG_PAGE)
    earlier = call.flag("navigate_earlier", True)
    lines = call.store.events.by_time(task["id"], LOG, size, earlier, call.integer("from_timestamp"))
    order = call.opt_text("order")
    if order and (order.lower() == "asc") == earlier:
        lines.reverse()
    return {"events": lines, "returned": len(lines), "total": call.store.events.count(task["id"], LOG)}


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
    """Debug images of ``iters`` iterations per task, latest first, paged by ``scroll_id`` as ClearML does.

    Each iteration holds one image per metric and variant (the greatest URL, as ClearML picks it).
    The first page starts at the latest iteration; the next one continues earlier
    (``navigate_earlier``, default) or later than the iterations already returned, and is empty
    at the end. The scroll id carries that position itself, so no state is kept on the server.
    """
    wanted: dict[str, dict[str, list[str]]] = {}
    for item in call.items("metrics"):
        if not isinstance(item, dict) or not isinstance(item.get("task"), str):
            raise validation("'metrics' items must be objects with a 'task' id")
        metrics = wanted.setdefault(item["task"], {})
        metric = item.get("metric")
        metrics[metric if isinstance(metric, str) else ""] = [
            v for v in item.get("variants") or [] if isinstance(v, str)
        ]
    if not wanted and call.opt_text("task"):  # the legacy form: one task, every metric
        wanted[call.text("task")] = {"": []}
    if not wanted:
        raise validation("'metrics' must name at least one task")
    model_events = call.flag("model_events")
    for task_id in wanted:
        require(call.store.models if model_events else call.store.tasks, "model" if model_events else "task", task_id)
    iters = max(1, call.integer("iters") or 1)
    earlier = call.flag("navigate_earlier", True)
    positions = read_scroll(call.opt_text("scroll_id"))
    out = []
    for task_id, metrics in wanted.items():
        low, high = positions.get(task_id, (None, None))
        images = image_iterations(call.store.events.bodies(task_id, IMAGE), metrics)
        if high is None:  # the first page always starts at the latest iteration
            page = sorted(images, reverse=True)[:iters]
        elif earlier:
            page = sorted((i for i in images if low is None or i < low), reverse=True)[:iters]
        else:
            page = sorted(i for i in images if i > high)[:iters][::-1]
        if page:
            positions[task_id] = (page[-1], page[0])
        out.append({"task": task_id, "iterations": [{"iter": i, "events": images[i]} for i in page]})
    return {"metrics": out, "scroll_id": write_scroll(positions)}


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
    for metric, variant, iteration, _, value in store.events.points(task_id, SCALAR):
        series.setdefault(metric, {}).setdefault(variant, []).append((iteration, value))
    return series


@router.endpoint("events.scalar_metrics_iter_histogram")
def scalar_histogram(call: Call) -> Data:
    """Scalar series down-sampled as ClearML does: at most ``samples`` points per series.

    A series with fewer events than ``samples`` (default 2000, 1 to 6000) keeps one point per
    ``key`` value (``iter``, ``timestamp`` in ms or ``iso_time``); a longer one is cut into
    buckets of ``ceil(range / samples)`` (series whose widths are within 10% share the widest) and
    each bucket answers its start and the mean of its values. Single values are left out.
    """
    task = require(call.store.tasks, "task", call.text("task"))
    samples = call.integer("samples", _DEFAULT_SAMPLES) or 0
    if not 1 <= samples <= MAX_SAMPLES:
        raise validation(f"'samples' must be between 1 and {MAX_SAMPLES}, got {samples}")
    key = call.text("key", required=False, default="iter")
    if key not in ("iter", "timestamp", "iso_time"):
        raise validation(f"'key' must be one of iter, timestamp, iso_time, got {key!r}")
    wanted: dict[str, set[str]] = {}
    for item in call.items("metrics"):
        item = {"metric": item} if isinstance(item, str) else item
        if isinstance(item, dict) and isinstance(item.get("metric"), str):
            wanted.setdefault(item["metric"], set()).update(v for v in item.get("variants") or [] if isinstance(v, str))
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for metric, variant, iteration, timestamp, value in call.store.events.points(task["id"], SCALAR):
        if iteration == SINGLE_VALUE_ITER or not _wants(wanted, metric, variant):
            continue
        series.setdefault((metric, variant), []).append((iteration if key == "iter" else timestamp, value))
    sampled = downsample(series, samples)
    out: Data = {}
    for metric, variant in sorted(sampled):
        x, y = sampled[(metric, variant)]
        xs: list[Any] = [iso_time(v) for v in x] if key == "iso_time" else x
        out.setdefault(metric, {})[variant] = {"name": variant, "x": xs, "y": y}
    return out


def _wants(wanted: dict[str, set[str]], metric: str, variant: str) -> bool:
    """Whether a request's ``metrics`` filter (metric to variants; none: all) lets a series through."""
    return not wanted or (metric in wanted and (not wanted[metric] or variant in wanted[metric]))


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
        rows = call.store.events.at_iteration(task_id, SCALAR, SINGLE_VALUE_ITER, "Summary")
        values = {(r[0], r[1]): {"metric": r[0], "variant": r[1], "value": r[2], "timestamp": r[3]} for r in rows}
        out.append({"task": task_id, "values": list(values.values())})
    return {"tasks": out}


@router.endpoint("events.delete_for_task")
def delete_for_task(call: Call) -> Data:
    task = require(call.store.tasks, "task", call.text("task"))
    call.store.events.delete_for(task["id"])
    return {"deleted": True}
