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
import math
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

    Copy on write below ``last_metrics``: a metric's entry and a series' entry are replaced by
    changed copies, never changed in place, so they may be shared with the store's cache.

    Args:
        task: A private (editable) copy of the task document whose ``last_metrics`` dict, if any,
            is private too; both are changed in place.
        event: The scalar event (``metric``, ``variant``, ``iter``, ``timestamp``).
        value: The event's value, already checked to be a number.
    """
    metric, variant = str(event.get("metric", "")), str(event.get("variant", ""))
    iteration = int(event.get("iter") or 0)
    metrics = task.setdefault("last_metrics", {})
    per_metric = dict(metrics.get(metric_key(metric)) or {})
    metrics[metric_key(metric)] = per_metric
    last = per_metric.get(metric_key(variant))
    if last is None:
        last = {"metric": metric, "variant": variant, "value": value, "min_value": value, "max_value": value,
                "min_value_iteration": iteration, "max_value_iteration": iteration, "first_value": value,
                "first_value_iteration": iteration, "count": 0, "mean_value": value}  # fmt: skip
    else:
        last = dict(last)
    if iteration >= last.get("iter", -math.inf) or "iter" not in last:
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
    per_metric[metric_key(variant)] = last
    task["last_iteration"] = max(int(task.get("last_iteration") or 0), iteration)


def last_metric(task: Data, title: str, series: str) -> Data | None:
    """The ``last_metrics`` entry (``value``, ``min_value``, ``max_value`` ...) of a series, if any."""
    entry = ((task.get("last_metrics") or {}).get(metric_key(title)) or {}).get(metric_key(series))
    return entry if isinstance(entry, dict) else None
