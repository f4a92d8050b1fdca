"""How ClearML Server pages debug images and down-samples scalar series, as pure functions.

``events.debug_images`` pages by iteration with a scroll id; ClearML keeps the position in Redis,
here the scroll id carries it (a JSON map of task to its lowest and highest iteration returned,
base64), so the server keeps no state and an unreadable id starts over, as an unknown one does
in ClearML. ``events.scalar_metrics_iter_histogram`` buckets long series
(``apiserver/bll/event/event_metrics.py``): :func:`downsample`.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timezone
from typing import Any

Data = dict[str, Any]
Series = tuple[str, str]  # metric, variant
Points = list[tuple[int, float]]  # x, value

MAX_SAMPLES = 6000  # ClearML's MAX_SAMPLE_BUCKETS, also the bound of a request's samples
_MAX_GROUP = 50  # series bucketed together at most (ClearML's MAX_AGGS_ELEMENTS_COUNT)


def event_iteration(event: Data) -> int:
    """An event's iteration as stored (0 when it has none)."""
    iteration = event.get("iter")
    return int(iteration) if isinstance(iteration, int | float) and not isinstance(iteration, bool) else 0


def downsample(
    series: dict[Series, list[tuple[int, float]]], samples: int
) -> dict[Series, tuple[list[int], list[float]]]:
    """``(x, y)`` of each series with at most about ``samples`` points, as ClearML computes them.

    A series with fewer points than ``samples`` keeps one point per x (the mean of its values);
    a longer one is cut into buckets ``ceil(range / samples)`` wide, series whose widths are
    within 10% sharing the widest, and each bucket answers its start and the mean of its values.
    """
    intervals = _intervals({name: _interval(points, samples) for name, points in series.items()})
    return {name: _buckets(points, intervals[name]) for name, points in series.items()}


def _interval(points: list[tuple[int, float]], samples: int) -> tuple[int, int]:
    """``(bucket width, buckets)`` for one series: ClearML's ``_build_metric_interval``."""
    if len(points) < samples:
        return 1, len(points)
    low, high = min(p[0] for p in points), max(p[0] for p in points)
    interval = max(1, math.ceil((high - low + 1) / samples))
    return interval, math.ceil((high - low + 1) / interval)


def _intervals(widths: dict[tuple[str, str], tuple[int, int]]) -> dict[tuple[str, str], int]:
    """The width each series is bucketed by: ClearML groups widths within 10% and uses the group's widest."""
    out: dict[tuple[str, str], int] = {}
    group: list[tuple[str, str]] = []
    bound = widest = used = 0
    for name, (interval, size) in sorted(widths.items(), key=lambda item: item[1][0]):
        if interval > bound or used + size > MAX_SAMPLES or len(group) >= _MAX_GROUP:
            out.update(dict.fromkeys(group, widest))
            group, widest, bound, used = [], interval, interval + int(interval * 0.1), 0
        group.append(name)
        used += size
        widest = max(widest, interval)
    out.update(dict.fromkeys(group, widest))
    return out


def _buckets(points: list[tuple[int, float]], interval: int) -> tuple[list[int], list[float]]:
    """Start and mean value of each non-empty bucket ``[k * interval, (k + 1) * interval)``, by start."""
    sums: dict[int, list[float]] = {}
    for x, value in points:
        bucket = sums.setdefault(x // interval * interval, [0.0, 0])
        bucket[0] += value
        bucket[1] += 1
    starts = sorted(sums)
    return starts, [sums[s][0] / sums[s][1] for s in starts]


def iso_time(millis: int) -> str:
    """A timestamp in ms as Elasticsearch's ``strict_date_time`` renders it."""
    when = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def image_iterations(images: list[Data], metrics: dict[str, list[str]]) -> dict[int, list[Data]]:
    """Per iteration, one image event per metric and variant (the greatest URL), ordered by metric and variant.

    As in ClearML, when a series' latest URL was used before (the SDK recycles image files after
    ``file_history_size`` iterations), its images up to that earlier use are left out: the file
    they point to has been overwritten.
    """
    every = "" in metrics
    chosen: dict[int, dict[tuple[str, str], Data]] = {}
    uses: dict[tuple[str, str], dict[str, list[int]]] = {}
    for event in images:
        metric, variant, url = str(event.get("metric") or ""), str(event.get("variant") or ""), event.get("url")
        if not isinstance(url, str) or not (every or (metric in metrics and variant in (metrics[metric] or [variant]))):
            continue
        iteration = event_iteration(event)
        uses.setdefault((metric, variant), {}).setdefault(url, []).append(iteration)
        best = chosen.setdefault(iteration, {}).get((metric, variant))
        if best is None or url >= str(best.get("url")):
            chosen[iteration][(metric, variant)] = event
    overwritten = {series: _recycled_until(by_url) for series, by_url in uses.items()}
    out: dict[int, list[Data]] = {}
    for iteration, events in chosen.items():
        kept = [events[s] for s in sorted(events) if overwritten[s] is None or iteration > overwritten[s]]  # type: ignore[operator]
        if kept:
            out[iteration] = kept
    return out


def _recycled_until(by_url: dict[str, list[int]]) -> int | None:
    """The iteration before which a series' images were overwritten: the previous use of its latest URL."""
    latest = max(by_url.values(), key=max)
    earlier = sorted(set(latest))[:-1]
    return earlier[-1] if earlier else None


def read_scroll(scroll_id: str | None) -> dict[str, tuple[int | None, int | None]]:
    """The position a scroll id carries; an unreadable one starts over, as ClearML's unknown state ids do."""
    if not scroll_id:
        return {}
    try:
        raw = json.loads(base64.urlsafe_b64decode(scroll_id.encode("ascii")))
        return {str(t): (int(p[0]), int(p[1])) for t, p in raw.items()}
    except (ValueError, TypeError, AttributeError, LookupError, ArithmeticError):
        return {}


def write_scroll(positions: dict[str, tuple[int | None, int | None]]) -> str:
    known = {task: list(p) for task, p in positions.items() if None not in p}
    return base64.urlsafe_b64encode(json.dumps(known, separators=(",", ":")).encode()).decode("ascii")
