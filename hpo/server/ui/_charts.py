"""Plotly figures as plain JSON-ready dicts, built on the server; the page only hands them to Plotly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hpo.server.ui._events import Series

Figure = dict[str, Any]

MARKERS_UP_TO = 50  # a series with this many points or fewer also gets markers: one point draws no line

# The legend stands at the right (Plotly's default, scrolling when long): a horizontal one under the plot
# covered the x axis's title as soon as it took two rows (compare's overlays of many tasks).
_LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "height": 320}


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


PANEL_PX = 560  # the study view's narrowest panel (ui.css .panels): a wider figure takes the whole row
PAGE_PX = 1300  # about the width a full-width panel has; a table needing more gets it and scrolls
_CHAR_PX, _ROW_PX, _HEADER_PX, _TABLE_MAX_PX = 7, 28, 32, 640


def is_table(figure: Figure) -> bool:
    return any(isinstance(t, dict) and t.get("type") == "table" for t in figure.get("data") or [])


def fixed_width(figure: Figure) -> float | None:
    """The figure's own ``layout.width`` in px (Optuna's slice plot sets 300 per parameter), if it has one."""
    layout = figure.get("layout")
    width = layout.get("width") if isinstance(layout, dict) else None
    return float(width) if isinstance(width, int | float) and not isinstance(width, bool) else None


def fit_table(figure: Figure) -> Figure:
    """A table figure (``Logger.report_table``) sized to its rows and columns, instead of Plotly's default
    450 px height with its rows at the middle and columns of equal width that clip the long ones.

    Only what the reporter left unset is set; the figure is copied, never changed in place.
    """
    tables = [t for t in figure.get("data") or [] if isinstance(t, dict) and t.get("type") == "table"]
    if len(tables) != 1:
        return figure
    trace = dict(tables[0])
    head, body = trace.get("header"), trace.get("cells")
    header = head.get("values") if isinstance(head, dict) else None
    columns = body.get("values") if isinstance(body, dict) else None
    if not isinstance(header, list) or not isinstance(columns, list):
        return figure  # not a table as report_table writes one: drawn as it came
    rows = max((len(c) for c in columns if isinstance(c, list)), default=0)
    chars = [
        max([len(str(h))] + [len(str(v)) for v in (col if isinstance(col, list) else [])[:200]])
        for h, col in zip(header, columns + [[]] * (len(header) - len(columns)), strict=False)
    ]
    chars = [min(max(n, 4), 48) for n in chars]
    if chars and "columnwidth" not in trace:
        trace["columnwidth"] = chars
    layout = dict(figure.get("layout") or {}) if isinstance(figure.get("layout"), dict) else {}
    layout.setdefault("height", min(_HEADER_PX + _ROW_PX * (rows + 1) + 20, _TABLE_MAX_PX))
    layout.setdefault("margin", {"l": 8, "r": 8, "t": 8, "b": 8})
    needed = sum(chars) * _CHAR_PX + 16 * len(chars)
    if needed > PAGE_PX:
        layout.setdefault("width", needed)
    data = [trace if t is tables[0] else t for t in figure["data"]]
    return {**figure, "data": data, "layout": layout}
