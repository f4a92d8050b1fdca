"""Compare at ClearML's level: up to 100 tasks, a parameter-vs-metric scatter, "hide identical" rows,
and "best" marked only where the search's objective gives the direction (never from a metric's name)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.ui import UI


def _figures(page: str) -> list[dict[str, Any]]:
    blocks = re.findall(r'<script type="application/json" id="fig-[^"]+">(.*?)</script>', page, re.S)
    return [json.loads(b) for b in blocks]


def _optimizer(ui: UI, sign: str) -> str:
    opt = ui.task(
        "Optimizing: t",
        objective_metric_title=("['validation']", "list"),
        objective_metric_series=("['loss']", "list"),
        objective_metric_sign=(f"['{sign}']", "list"),
    )
    ui.api("tasks.edit", {"task": opt, "type": "optimizer"})
    return opt


def _trials(ui: UI, parent: str | None) -> list[str]:
    ids = []
    for i, (loss, accuracy) in enumerate([(0.5, 0.7), (0.2, 0.9), (0.4, 0.8)]):
        task_id = ui.task(f"trial {i}", lr=(f"0.{i + 1}", "float"), epochs=("3", "int"))
        if parent:
            ui.api("tasks.edit", {"task": task_id, "parent": parent})
        ui.scalars(task_id, "validation", "loss", [loss])
        ui.scalars(task_id, "validation", "accuracy", [accuracy])  # not the objective: no direction
        ui.scalars(task_id, "timing", "fit_seconds", [10.0 + i])
        ids.append(task_id)
    return ids


def _best(page: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in re.findall(r"<tr[^>]*><th>([^<]+)(.*?)</tr>", page, re.S):
        marked = re.findall(r'<td class="num best"><span title="([^"]+)"', row[1])
        if marked:
            out[row[0].strip()] = marked
    return out


@pytest.mark.parametrize(("sign", "best"), [("min", "0.2"), ("max", "0.5"), ("min_global", "0.2")])
def test_best_is_marked_only_on_the_searchs_objective_in_its_direction(ui: UI, sign: str, best: str) -> None:
    ids = _trials(ui, _optimizer(ui, sign))
    ui.sign_in()
    page = ui.client.get(f"/compare?ids={','.join(ids)}").text
    assert _best(page) == {"validation/loss": [best]}
    assert "higher is better" in page if sign == "max" else "lower is better" in page


def test_without_a_search_nothing_is_best(ui: UI) -> None:
    ids = _trials(ui, None)
    ui.sign_in()
    page = ui.client.get(f"/compare?ids={','.join(ids)}").text
    assert _best(page) == {} and "lower is better" not in page and "higher is better" not in page


def test_hide_identical_drops_rows_equal_across_tasks(ui: UI) -> None:
    ids = _trials(ui, None)
    ui.scalars(ids[0], "const", "one", [1.0])
    for task_id in ids[1:]:
        ui.scalars(task_id, "const", "one", [1.0])
    ui.sign_in()
    full = ui.client.get(f"/compare?ids={','.join(ids)}").text
    assert "<th>General/epochs</th>" in full and "<th>const/one" in full
    page = ui.client.get(f"/compare?ids={','.join(ids)}&hide_identical=1").text
    assert "<th>General/epochs</th>" not in page and "<th>const/one" not in page
    assert '<tr class="differs"><th>General/lr</th>' in page and "<th>validation/loss" in page
    assert "2 identical rows hidden." in page


def test_scatter_plots_the_chosen_parameter_against_the_metric(ui: UI) -> None:
    ids = _trials(ui, _optimizer(ui, "min"))
    ui.sign_in()
    page = ui.client.get(f"/compare?ids={','.join(ids)}").text
    (trace,) = _figures(page)[0]["data"]
    # the objective is the default metric, the differing parameter the default x
    assert trace["type"] == "scatter" and trace["x"] == [0.1, 0.2, 0.3] and trace["y"] == [0.5, 0.2, 0.4]
    page = ui.client.get(f"/compare?ids={','.join(ids)}&param=General/epochs&metric=timing/fit_seconds").text
    figure = _figures(page)[0]
    assert figure["data"][0]["y"] == [10.0, 11.0, 12.0] and figure["layout"]["title"]["text"].startswith("timing")
    bad = ui.client.get(f"/compare?ids={','.join(ids)}&param=nope").text
    assert 'class="notice"' in bad and "param=&#39;nope&#39;" in bad


def test_compare_takes_100_tasks_and_says_so_past_that(ui: UI) -> None:
    ids = [ui.task(f"t{i}", lr=(str(i), "float")) for i in range(101)]
    ui.sign_in()
    page = ui.client.get(f"/compare?ids={','.join(ids)}")
    assert page.status_code == 200 and "<h1>Compare 100 experiments</h1>" in page.text
    assert "101 experiments given; comparing the first 100" in page.text
