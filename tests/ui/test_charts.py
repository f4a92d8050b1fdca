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


def test_scalar_figure_carries_timestamps_for_a_wall_time_axis_only_when_every_point_has_one() -> None:
    timed = Series("validation", "accuracy", [0, 1], [0.5, 0.6], 2, [1_700_000_000_000, 1_700_000_001_000])
    figure = scalar_figure("validation", [("accuracy", timed)])
    assert figure["data"][0]["customdata"] == [1_700_000_000_000, 1_700_000_001_000] and figure["wall_time"] is True
    untimed = Series("validation", "loss", [0, 1], [0.5, 0.6], 2, [1_700_000_000_000, 0])  # 0: no timestamp sent
    assert scalar_figure("validation", [("accuracy", timed), ("loss", untimed)])["wall_time"] is False
