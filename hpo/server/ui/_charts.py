"""Plotly figures as plain JSON-ready dicts, built on the server; the page only hands them to Plotly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo.server.ui._events import Series

Figure = dict[str, Any]

MARKERS_UP_TO = 50  # a series with this many points or fewer also gets markers: one point draws no line

_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 320, "legend": {"orientation": "h"}}


def scalar_figure(title: str, series: Sequence[tuple[str, Series]]) -> Figure:
    """One chart of a scalar title: a line per (legend name, series), with markers on short series (a
    metric reported once, at iteration 0, is one point: a line alone would draw nothing).

    Each trace carries its points' timestamps (epoch ms) as ``customdata``, for the page's wall-time
    axis; ``wall_time`` says whether every point has one (events of old SDKs may not).
    """
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers" if len(s.x) <= MARKERS_UP_TO else "lines",
            "name": name,
            "x": s.x,
            "y": s.y,
            "customdata": s.t,
            "hovertemplate": "%{x}: %{y}",
        }
        for name, s in series
    ]
    layout = {**_LAYOUT, "title": {"text": title}, "xaxis": {"title": {"text": "iteration"}}}
    wall_time = all(len(s.t) == len(s.x) and all(s.t) for _, s in series)
    return {"data": data, "layout": layout, "wall_time": wall_time}


def by_title(series: Sequence[Series]) -> dict[str, list[Series]]:
    out: dict[str, list[Series]] = {}
    for s in series:
        out.setdefault(s.title, []).append(s)
    return out


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parallel_coordinates(
    names: list[str], params: dict[str, list[str | None]], metric: str, values: list[float]
) -> Figure:
    """Parameters (numeric axes, or categorical ones with their labels) then the metric, one line per task.

    Every task given must have the metric: JSON has no NaN to stand for a missing value.
    """
    dims: list[dict[str, Any]] = []
    for key, column in params.items():
        numbers = [_number(v) for v in column]
        if all(n is not None for n in numbers):
            dims.append({"label": key, "values": numbers})
            continue
        labels = sorted({str(v) for v in column})
        dims.append({"label": key, "values": [labels.index(str(v)) for v in column],
                     "tickvals": list(range(len(labels))), "ticktext": labels})  # fmt: skip
    dims.append({"label": metric, "values": values})
    line: dict[str, Any] = {"color": values, "colorscale": "Viridis", "showscale": True}
    trace = {"type": "parcoords", "dimensions": dims, "line": line, "customdata": names}
    return {"data": [trace], "layout": {**_LAYOUT, "height": 380, "margin": {"l": 80, "r": 80, "t": 60, "b": 30}}}
