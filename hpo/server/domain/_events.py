"""Event semantics: the event types, metric keys and a task's ``last_metrics``, as ClearML keeps them.

ClearML Server keys ``last_metrics`` by the md5 of the metric (title) and of the variant
(series), and keeps per series the last value (by iteration), the minimum and maximum with their
iterations, the first value, the count and the mean of the values reported. Single values
(``Logger.report_single_value``) are scalars at iteration :data:`SINGLE_VALUE_ITER`.

Which events are stored once per (task, type, metric, variant, iteration) is the store's
identity (``hpo.server.store._events``): every type but :data:`LOG`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

Data = dict[str, Any]

SCALAR = "training_stats_scalar"
LOG = "log"
PLOT = "plot"
IMAGE = "training_debug_image"
VECTOR = "training_stats_vector"
EVENT_TYPES = (SCALAR, LOG, PLOT, IMAGE, VECTOR)
# The iteration the SDK reports single values (``Logger.report_single_value``) at.
SINGLE_VALUE_ITER = -(2**31)


@lru_cache(maxsize=4096)
def metric_key(name: str) -> str:
    """The key of a metric or variant name in ``last_metrics`` (md5 of the name, as ClearML)."""
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def update_last_metrics(task: Data, event: Data, value: float) -> None:
    """Fold one scalar event into ``task["last_metrics"]`` and ``task["last_iteration"]``.

    As :func:`fold_scalars` of one event.
    """
    fold_scalars(task, [(event, value)])


def fold_scalars(task: Data, scalars: list[tuple[Data, float]]) -> None:
    """Fold scalar events, in order, into ``task["last_metrics"]`` and ``task["last_iteration"]``.

    Copy on write below ``last_metrics``: a metric's entry and a series' entry are replaced by
    changed copies (one copy each per call), never changed in place, so they may be shared with
    the store's cache.

    Args:
        task: A private (editable) copy of the task document whose ``last_metrics`` dict, if any,
            is private too; both are changed in place.
        scalars: Each scalar event (``metric``, ``variant``, ``iter``, ``timestamp``) with its
            value, already checked to be a number.
    """
    if not scalars:
        return
    metrics = task.setdefault("last_metrics", {})
    owned: dict[Any, Data] = {}  # entries this call copied or created: by metric key, and by (metric, variant) keys
    by_names: dict[tuple[Any, Any], Data] = {}  # the same series entries by the names events gave
    last_iteration = int(task.get("last_iteration") or 0)
    for event, value in scalars:
        names = (event.get("metric", ""), event.get("variant", ""))
        iteration = event.get("iter") or 0
        iteration = iteration if iteration.__class__ is int else int(iteration)
        last = by_names.get(names)
        if last is None:
            last = by_names[names] = _own_series(metrics, owned, str(names[0]), str(names[1]), value, iteration)
        _fold_one(last, event, value, iteration)
        if iteration > last_iteration:
            last_iteration = iteration
    task["last_iteration"] = last_iteration


def _own_series(metrics: Data, owned: dict[Any, Data], metric: str, variant: str, value: float, iteration: int) -> Data:
    """A series' entry in ``metrics`` the caller may change: one it owns already, a copy, or a new one."""
    mkey, vkey = metric_key(metric), metric_key(variant)
    if (mkey, vkey) in owned:  # a series named two ways ("1" and 1) is one entry
        return owned[(mkey, vkey)]
    if mkey not in owned:
        owned[mkey] = metrics[mkey] = dict(metrics.get(mkey) or {})
    per_metric = owned[mkey]
    last = per_metric.get(vkey)
    if last is None:
        last = {"metric": metric, "variant": variant, "value": value, "min_value": value, "max_value": value,
                "min_value_iteration": iteration, "max_value_iteration": iteration, "first_value": value,
                "first_value_iteration": iteration, "count": 0, "mean_value": value}  # fmt: skip
    mine: Data = dict(last)
    owned[(mkey, vkey)] = per_metric[vkey] = mine
    return mine


def _fold_one(last: Data, event: Data, value: float, iteration: int) -> None:
    """One value into a series' entry: last by iteration, extremes with their iterations, count and mean."""
    if "iter" not in last or iteration >= last["iter"]:
        last["value"] = value
        last["iter"] = iteration
        last["timestamp"] = event.get("timestamp")
    if value < last["min_value"]:
        last["min_value"], last["min_value_iteration"] = value, iteration
    if value > last["max_value"]:
        last["max_value"], last["max_value_iteration"] = value, iteration
    count = int(last.get("count", 0)) + 1
    mean = last.get("mean_value")
    last["mean_value"] = value if not isinstance(mean, int | float) else mean + (value - mean) / count
    last["count"] = count


def last_metric(task: Data, title: str, series: str) -> Data | None:
    """The ``last_metrics`` entry (``value``, ``min_value``, ``max_value`` ...) of a series, if any."""
    entry = ((task.get("last_metrics") or {}).get(metric_key(title)) or {}).get(metric_key(series))
    return entry if isinstance(entry, dict) else None
