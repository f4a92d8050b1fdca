"""Regressions found by trying issue 19's UI as a new user (in process): figures that did not fit their place.

- Optuna's slice plot is 300 px wide per parameter (2,400 px for the tfidf space): it overflowed its
  half-width panel over the next one; it now gets a full-width panel that scrolls.
- ``report_table`` figures (the analysis's trials, cost and notes; ClearML's own "summary") were drawn
  in Plotly's default 450 px with equal columns: a lot of blank space around a few rows, and long
  cells clipped; they are now sized to their rows and columns.
- A horizontal legend under a scalar chart covered its x axis's title once it took two rows.
- A bulk action refused by a page of 500 rows listed 500 notices above the table.
- ``hpo search`` printed the link to its study view only at the end, when there was nothing live to see.
- The table's Worker column was empty for every task that had ended (only a worker's current task showed).
- The study view of 1,000 trials listed every one (a 30,000 px page); it lists the best 200 and the live ones.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from rich.console import Console

from hpo.cli import _view
from hpo.server.ui._bulk import LISTED
from hpo.server.ui._charts import PAGE_PX, fit_table, scalar_figure
from hpo.server.ui._events import Series
from hpo.study import StudyAttr, Summary
from tests.support.ui import UI


def _table(header: list[str], columns: list[list[Any]], layout: dict[str, Any] | None = None) -> dict[str, Any]:
    trace = {"type": "table", "header": {"values": header}, "cells": {"values": columns}}
    return {"data": [trace], "layout": layout or {}}


def test_fit_table_sizes_a_table_to_its_rows_and_columns() -> None:
    few = fit_table(_table(["what", "seconds"], [["total compute (trials' run time)", "queue wait"], [36.9, 3.4]]))
    many = fit_table(_table(["trial"], [list(range(10))]))
    assert few["layout"]["height"] < many["layout"]["height"] < 450  # Plotly's default left rows floating
    widths = few["data"][0]["columnwidth"]
    assert widths[0] > widths[1]  # the long text column is the wider one
    assert "width" not in few["layout"]  # fits the page: the panel's width is used


def test_fit_table_keeps_what_the_reporter_set_and_leaves_other_figures_alone() -> None:
    mine = _table(["a"], [[1]], {"height": 900, "margin": {"t": 50}})
    mine["data"][0]["columnwidth"] = [3]
    fitted = fit_table(mine)
    assert fitted["layout"]["height"] == 900 and fitted["layout"]["margin"] == {"t": 50}
    assert fitted["data"][0]["columnwidth"] == [3]
    assert mine["layout"] == {"height": 900, "margin": {"t": 50}}  # copied, not changed in place
    scatter = {"data": [{"type": "scatter", "x": [0], "y": [1]}], "layout": {}}
    assert fit_table(scatter) is scatter
    assert fit_table({"data": "not a list"}) == {"data": "not a list"}
    odd = {"data": [{"type": "table", "header": "names", "cells": {"values": [[1]]}}]}
    assert fit_table(odd) is odd  # a reporter's odd table is drawn as it came, never a 500


def test_a_table_wider_than_the_page_gets_its_width() -> None:
    header = [f"General/parameter_{i}" for i in range(30)]
    wide = fit_table(_table(header, [[0.123456789] for _ in header]))
    assert wide["layout"]["width"] > PAGE_PX  # its panel scrolls instead of clipping every column


def test_scalar_legend_does_not_sit_under_the_axis() -> None:
    series = [(f"trial #{i} · accuracy", Series("cv", "accuracy", [0], [0.5], 1)) for i in range(20)]
    legend = scalar_figure("cv", series)["layout"].get("legend") or {}
    assert legend.get("orientation", "v") == "v"


def _optimizer(ui: UI) -> str:
    opt = ui.task("HPO wide")
    ui.api("tasks.edit", {"task": opt, "type": "optimizer"})
    return opt


def _report(ui: UI, task: str, title: str, figure: dict[str, Any]) -> None:
    line = {"type": "plot", "task": task, "metric": title, "variant": "score", "iter": 0}
    line["plot_str"] = json.dumps(figure)
    ui.api("events.add_batch", lines=[line])


def test_a_figure_wider_than_a_panel_takes_the_whole_row_and_a_table_its_size(ui: UI) -> None:
    opt = _optimizer(ui)
    scatter = [{"type": "scatter", "x": [0, 1], "y": [1, 2]}]
    _report(ui, opt, "Slice plot", {"data": scatter, "layout": {"width": 2400}})  # Optuna: 300 px a parameter
    _report(ui, opt, "Optimization history", {"data": scatter, "layout": {}})
    _report(ui, opt, "Cost", _table(["what", "seconds"], [["total compute", "total queue wait"], [36.9, 3.4]]))
    ui.sign_in()
    html = ui.client.get(f"/ui/study/{opt}").json()["html"]
    panels = dict((t.strip(), c) for c, t in re.findall(r'<section class="(panel[^"]*)"><h3>([^<]+)', html))
    assert panels == {"Optimization history": "panel", "Slice plot": "panel wide", "Cost": "panel wide"}
    figures = [json.loads(b) for b in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html)]
    [cost] = [f for f in figures if f["data"][0]["type"] == "table"]
    assert cost["layout"]["height"] < 450 and cost["data"][0]["columnwidth"]
    plots_tab = ui.client.get(f"/projects/*/experiments/{opt}/output/plots").text
    assert '"columnwidth"' in plots_tab  # the plots tab sizes tables the same way


def test_a_models_reported_table_is_sized_too(ui: UI) -> None:
    model = ui.api("models.create", {"name": "m", "uri": "file:///m.bin"})["id"]
    report = _table(["class", "precision"], [["negative", "positive"], [0.77, 0.84]])
    line = {"type": "plot", "task": model, "model_event": True, "metric": "report", "variant": "validation", "iter": 0}
    line["plot_str"] = json.dumps(report)
    ui.api("events.add_batch", lines=[line])
    ui.sign_in()
    page = ui.client.get(f"/projects/*/models/{model}/general").text
    [figure] = [json.loads(b) for b in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page)]
    assert figure["layout"]["height"] < 450 and figure["data"][0]["columnwidth"]


def test_a_bulk_action_refused_by_many_names_the_first_and_counts_the_rest(ui: UI) -> None:
    drafts = [ui.task(f"draft {i:02d}") for i in range(LISTED + 5)]
    ui.sign_in()
    back = "/projects/*/experiments?sort=name&order=asc"
    response = ui.post("/ui/actions/tasks-bulk", {"action": "abort", "ids": drafts, "back": back})
    assert response.status_code == 303
    page = ui.client.get(response.headers["location"]).text
    assert f"Abort: done for 0 of {LISTED + 5} selected; not applied to {LISTED + 5}" in page
    assert page.count("Abort not applied to &#39;draft") == LISTED
    assert "Abort not applied to 5 more; select fewer to see each reason" in page


def test_the_live_terminal_view_links_the_study_view_while_the_search_runs() -> None:
    url = "http://127.0.0.1:8008/projects/908a6473de9b49abaccc722e57214478/experiments/6bbaaa634cbd46479174ce8ea4ccd9ed/general"
    counts = {"queued": 1, "running": 2, "completed": 3, "pruned": 0, "failed": 0, "stopped": 0, "duplicate": 0}
    summary = Summary(study="tfidf", state="running", budget=6, counts=counts, best_value=None, best_params={},
                      best_task_id=None, elapsed_s=10.0, eta_s=None, objectives=[["cv", "accuracy", "max"]],
                      attrs={StudyAttr.OPTIMIZER_URL: url})  # fmt: skip
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(_view.live_view(summary))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    start = next(i for i, line in enumerate(lines) if line.startswith("study view: "))
    assert "".join(lines[start:])[len("study view: ") :].startswith(url)  # folded, never cut
    assert "study view" not in _plain(_view.live_view(Summary(**{**summary.__dict__, "attrs": {}})))


def _plain(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(renderable)
    return out.getvalue()


def test_the_table_names_the_worker_a_task_ran_on_after_it_ended(ui: UI) -> None:
    task = ui.task("trial")
    ui.api("tasks.started", {"task": task})
    ui.api("workers.register", {"worker": "vm:agent-1", "queues": []})
    ui.api("workers.status_report", {"worker": "vm:agent-1", "task": task, "timestamp": 1})
    ui.api("workers.status_report", {"worker": "vm:agent-1", "timestamp": 2})  # idle again: the task ended
    ui.api("tasks.completed", {"task": task, "force": True})
    ui.sign_in()
    page = ui.client.get("/projects/*/experiments").text
    row = re.search(rf'<tr data-id="{task}">(.*?)</tr>', page, re.S)
    assert row and "<td>vm:agent-1</td>" in row.group(1)


def test_a_big_study_lists_its_best_trials_and_every_live_one_and_counts_the_rest(
    ui: UI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpo.server.ui import _study

    monkeypatch.setattr(_study, "SHOWN", 3)  # 200 on a real page
    opt = _optimizer(ui)
    ui.api("tasks.edit_hyper_params", {"task": opt, "hyperparams": [
        {"section": "General", "name": f"opt/objective_metric_{k}", "value": v, "type": "str"}
        for k, v in (("title", "['validation']"), ("series", "['score']"), ("sign", "['max']"))]})  # fmt: skip
    scores = [0.5, 0.9, 0.7, 0.6, 0.8]
    for i, score in enumerate(scores):
        trial = ui.task(f"t{i}")
        ui.api("tasks.edit", {"task": trial, "parent": opt})
        ui.scalars(trial, "validation", "score", [score])
        ui.api("tasks.started", {"task": trial})
        ui.api("tasks.completed", {"task": trial, "force": True})
    running = ui.task("still running")
    ui.api("tasks.edit", {"task": running, "parent": opt})
    ui.api("tasks.started", {"task": running})
    ui.sign_in()
    html = ui.client.get(f"/ui/study/{opt}").json()["html"]
    listed = re.findall(r'<tr><td><a href="[^"]+">([^<]+)</a>', html)
    assert listed == ["t1", "t4", "t2", "still running"]  # the best 3, then the live one
    assert "2 more trials, not listed here" in html and f"/ui/study/{opt}/trials.csv" in html
    assert '<h2>Trials <span class="muted">6' in html  # the heading counts them all
    rows = list(csv.reader(io.StringIO(ui.client.get(f"/ui/study/{opt}/trials.csv").text)))
    assert len(rows) == 1 + 6  # the CSV has them all
