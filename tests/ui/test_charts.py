"""The web UI's Plotly figures (pure): a scalar reported once must still draw."""

from __future__ import annotations

from hpo.server.ui._charts import MARKERS_UP_TO, scalar_figure
from hpo.server.ui._events import Series


def _series(points: int) -> Series:
    return Series("validation", "accuracy", list(range(points)), [0.5] * points, points)


def test_scalar_figure_marks_a_single_point_and_draws_long_series_as_lines() -> None:
    one = scalar_figure("validation", [("accuracy", _series(1))])
    assert one["data"][0]["mode"] == "lines+markers"  # `lines` alone draws nothing for one point
    long = scalar_figure("validation", [("accuracy", _series(MARKERS_UP_TO + 1))])
    assert long["data"][0]["mode"] == "lines"
