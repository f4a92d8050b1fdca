"""The study view of an optimizer task (in process): what it carries, its trials, live JSON, stop, CSV.

The optimizer tasks here are built through the API the way ClearML's ``HyperParameterOptimizer``
leaves them: type ``optimizer``, its options in ``General/opt/...``, the searched parameters in
its ``General`` configuration (``parameter_optimization_space``), its trials as child tasks.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from tests.support.ui import UI

SPACE = """parameter_optimization_space = [{
    type = "UniformParameterRange"
    name = "General/x"
    min_value = 0.0
    max_value = 1.0
  },
  {
    type = "DiscreteParameterRange"
    name = "General/opt"
    values = ["a"]
  }]"""


def _optimizer(ui: UI, space: str | None = SPACE) -> str:
    opt = ui.task(
        "HPO s",
        **{
            "opt/objective_metric_title": ("['validation']", "list"),
            "opt/objective_metric_series": ("['score']", "list"),
            "opt/objective_metric_sign": ("['max']", "list"),
        },  # fmt: skip
    )
    ui.api("tasks.edit", {"task": opt, "type": "optimizer"})
    if space is not None:
        config = [{"name": "General", "value": space, "type": "dictionary"}]
        ui.api("tasks.edit_configuration", {"task": opt, "configuration": config})
    ui.api("tasks.started", {"task": opt, "force": True})
    return opt


def _trial(ui: UI, opt: str, name: str, x: str, score: float | None = None) -> str:
    source = ui.task("curve", x=(x, "float"), opt=("a", "str"), iterations=("3", "int"))
    trial = str(ui.api("tasks.clone", {"task": source, "new_task_name": name, "new_task_parent": opt})["id"])
    if score is not None:
        ui.scalars(trial, "validation", "score", [score])
    return trial


def _plot(ui: UI, task_id: str, title: str, series: str = "") -> None:
    figure = {"data": [{"type": "scatter", "x": [0, 1], "y": [1, 2]}], "layout": {"title": {"text": title}}}
    ui.api("events.add_batch", lines=[{"type": "plot", "task": task_id, "metric": title, "variant": series or title,
                                       "iter": 0, "plot_str": json.dumps(figure)}])  # fmt: skip


def _study(ui: UI, opt: str, since: str = "") -> Any:
    response = ui.client.get(f"/ui/study/{opt}", params={"since": since} if since else {})
    assert response.status_code == 200, response.text
    return response.json()


def test_study_view_of_a_new_search_says_what_is_missing(ui: UI) -> None:
    opt = _optimizer(ui)
    ui.sign_in()
    bare = ui.client.get(f"/projects/*/experiments/{opt}", follow_redirects=False)
    assert bare.headers["location"].endswith(f"/experiments/{opt}/general")  # an optimizer opens on its study
    page = ui.client.get(bare.headers["location"]).text
    assert ">Study</a>" in page and 'id="study"' in page and 'data-live="1"' in page
    assert "carries no analysis yet" in page and "No trials yet." in page
    assert "Stop search" in page and "/trials.csv" in page
    assert "plotly" in page  # plots that arrive later are drawn without a reload
    first = _study(ui, opt)
    assert first["live"] is True and "carries no analysis yet" in first["html"]
    unchanged = _study(ui, opt, since=first["version"])
    assert "html" not in unchanged and unchanged["version"] == first["version"]


def test_trials_show_searched_params_rounded_best_first_and_name_what_never_varied(ui: UI) -> None:
    opt = _optimizer(ui)
    _trial(ui, opt, "t0", "0.123456789", 0.61)
    _trial(ui, opt, "t1", "0.3", 0.9)
    _trial(ui, opt, "t2", "0.7")  # no objective yet
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{opt}/general").text
    header = re.search(r'<table id="trials"><tr>(.*?)</tr>', page, re.S)
    assert header is not None
    assert re.findall(r"<th>([^<]+)</th>", header.group(1)) == [
        "Trial", "Status", "Objective", "General/x", "General/opt", "Stopped at iteration", "Queue"]  # fmt: skip
    assert "General/iterations" not in page  # a template argument the search did not search
    assert re.findall(r">(t\d)</a>", page) == ["t1", "t0", "t2"]
    assert '<span title="0.123456789">0.1235</span>' in page  # rounded for reading, exact in the tooltip
    assert "Never varied (one value in every trial): General/opt." in page
    assert "carries no analysis yet" in page


def test_one_trial_and_no_objective_are_said_not_failed(ui: UI) -> None:
    opt = _optimizer(ui, space=None)
    _trial(ui, opt, "only", "0.5")
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{opt}/general")
    assert page.status_code == 200
    assert "No trial has reported the objective yet." in page.text
    assert "all parameters (the optimizer names no searched ones)" in page.text
    ui.scalars(_trial(ui, opt, "second", "0.4"), "validation", "score", [0.5])
    assert "One trial has the objective" in _study(ui, opt)["html"]


def test_plots_the_optimizer_carries_are_shown_in_reading_order(ui: UI) -> None:
    opt = _optimizer(ui)
    for title in ("Trials table", "Timeline of trials", "Slice plot", "Optimization history",
                  "Hyper-parameter importance (fANOVA)", "Analysis notes", "something else"):  # fmt: skip
        _plot(ui, opt, title)
    ui.sign_in()
    html = _study(ui, opt)["html"]
    titles = re.findall(r'<section class="panel(?: wide)?"><h3>([^<]+)', html)
    assert titles == ["Analysis notes", "Optimization history", "Hyper-parameter importance (fANOVA)", "Slice plot",
                      "Timeline of trials", "Trials table", "something else"]  # fmt: skip
    assert "no analysis yet" not in html
    assert len(re.findall(r'<script type="application/json" id="fig-study-\d+">', html)) == 7


def test_live_json_changes_version_when_a_trial_ends_and_stops_being_live(ui: UI) -> None:
    opt = _optimizer(ui)
    trial = _trial(ui, opt, "t0", "0.2")
    ui.sign_in()
    before = _study(ui, opt)
    ui.scalars(trial, "validation", "score", [0.8])
    after = _study(ui, opt, since=before["version"])
    assert after["version"] != before["version"] and '<span title="0.8">0.8</span>' in after["html"]
    ui.api("tasks.stopped", {"task": opt, "force": True})
    assert _study(ui, opt)["live"] is False


def test_stop_search_stops_live_trials_and_the_optimizer(ui: UI) -> None:
    opt = _optimizer(ui)
    queue = ui.api("queues.create", {"name": "q"})["id"]
    queued, running, draft, done = (_trial(ui, opt, n, "0.1") for n in ("queued", "running", "draft", "done"))
    ui.api("tasks.enqueue", {"task": queued, "queue": queue})
    ui.api("tasks.started", {"task": running, "force": True})
    ui.api("tasks.started", {"task": done, "force": True})
    ui.api("tasks.completed", {"task": done, "force": True})
    ui.sign_in()
    response = ui.post(f"/ui/actions/tasks/{opt}/stop-search")
    assert response.status_code == 303 and response.headers["location"].endswith(f"/experiments/{opt}/general")
    tasks = ui.api("tasks.get_all", {"id": [opt, queued, running, draft, done]})["tasks"]
    status = {t["id"]: t["status"] for t in tasks}
    assert status == {opt: "stopped", queued: "stopped", running: "stopped", draft: "stopped", done: "completed"}
    assert ui.api("queues.get_by_id", {"queue": queue})["queue"]["entries"] == []
    answer = _study(ui, opt)
    assert answer["live"] is False and answer["stoppable"] is False
    assert "Stop search" not in ui.client.get(f"/projects/*/experiments/{opt}/general").text


def test_stop_search_needs_the_csrf_token_and_an_optimizer(ui: UI) -> None:
    opt = _optimizer(ui)
    plain = ui.task("plain")
    ui.sign_in()
    assert ui.post(f"/ui/actions/tasks/{opt}/stop-search", csrf=False).status_code == 403
    assert ui.api("tasks.get_by_id", {"task": opt})["task"]["status"] == "in_progress"
    assert ui.post(f"/ui/actions/tasks/{plain}/stop-search").status_code == 404
    assert ui.client.get(f"/ui/study/{plain}").status_code == 404


def test_child_tasks_as_csv(ui: UI) -> None:
    opt = _optimizer(ui)
    best = _trial(ui, opt, "best, with a comma", "0.3", 0.123456789)
    _trial(ui, opt, "other", "0.9", 0.1)
    ui.sign_in()
    response = ui.client.get(f"/ui/study/{opt}/trials.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="HPO_s-trials.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == ["best, with a comma", "other"]
    assert rows[0]["id"] == best and rows[0]["validation/score"] == "0.123456789" and rows[0]["General/x"] == "0.3"
    assert set(rows[0]) == {"id", "name", "status", "validation/score", "General/x", "General/opt", "created",
                            "started", "completed", "queue"}  # fmt: skip


def test_study_endpoints_need_a_session(ui: UI) -> None:
    opt = _optimizer(ui)
    for path in (f"/ui/study/{opt}", f"/ui/study/{opt}/trials.csv"):
        response = ui.client.get(path, follow_redirects=False)
        assert response.status_code == 303 and "/login?next=" in response.headers["location"]


def test_scalars_tab_offers_smoothing_log_scale_and_wall_time(ui: UI) -> None:
    task_id = ui.task("t")
    ui.scalars(task_id, "loss", "train", [1.0, 0.5, 0.25])  # timestamps 1000, 1001, 1002
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{task_id}/output/scalars").text
    assert 'name="smoothing"' in page and 'name="log_y"' in page and '<option value="wall">wall time</option>' in page
    [figure] = [json.loads(b) for b in re.findall(r'<script type="application/json" id="fig-1">(.*?)</script>', page)]
    assert figure["data"][0]["customdata"] == [1000, 1001, 1002]


def test_a_table_panel_spans_the_width(ui: UI) -> None:
    opt = _optimizer(ui)
    table = {"data": [{"type": "table", "header": {"values": ["trial"]}, "cells": {"values": [[0, 1]]}}]}
    ui.api("events.add_batch", lines=[{"type": "plot", "task": opt, "metric": "Trials", "variant": "all trials",
                                       "iter": 0, "plot_str": json.dumps(table)}])  # fmt: skip
    _plot(ui, opt, "Optimization history")
    ui.sign_in()
    html = _study(ui, opt)["html"]
    assert [(c, t.strip()) for c, t in re.findall(r'<section class="(panel[^"]*)"><h3>([^<]+)', html)] == [
        ("panel", "Optimization history"), ("panel wide", "Trials")]  # fmt: skip


def test_bad_reports_and_configuration_never_break_the_view(ui: UI) -> None:
    opt = _optimizer(ui, space="parameter_optimization_space = [ {{ broken")  # no name: all parameters shown
    bad = {"Slice plot": "{not json", "Contour": "[1, 2]"}
    lines = [{"type": "plot", "task": opt, "metric": t, "variant": t, "iter": 0, "plot_str": v} for t, v in bad.items()]
    ui.api("events.add_batch", lines=lines)
    _trial(ui, opt, "t0", "0.2", 0.5)
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{opt}/general")
    assert page.status_code == 200
    assert page.text.count("This plot could not be read.") == 2 and "<h3>Contour</h3>" in page.text
    assert "all parameters (the optimizer names no searched ones)" in page.text
    assert _study(ui, opt)["html"].count('<section class="panel') == 2
    assert ui.client.get(f"/ui/study/{opt}/trials.csv").status_code == 200


def test_stop_search_lists_what_it_could_not_stop(ui: UI) -> None:
    opt = _optimizer(ui)
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{opt}/general", params={"refused": "t1: <b>gone</b>"}).text
    assert '<div class="notice">Not stopped: t1: &lt;b&gt;gone&lt;/b&gt;</div>' in page
