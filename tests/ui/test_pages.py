"""Read-only pages: the SDK's result-page paths, escaping, table controls, downsampling, bad input."""

from __future__ import annotations

import json
import re

import pytest

from hpo.server.ui._events import MAX_POINTS
from tests.support.ui import UI

XSS = "<script>alert(1)</script>"


def _figures(html: str) -> list[dict]:  # type: ignore[type-arg]
    blocks = re.findall(r'<script type="application/json" id="fig-[^"]+">(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def test_results_page_link_the_sdk_prints_opens_the_console(ui: UI) -> None:
    project = ui.api("projects.create", {"name": "p"})["id"]
    task_id = ui.task("train", project)
    ui.log(task_id, "epoch 1 done", "epoch 2 done")
    ui.sign_in()
    for kind in ("experiments", "tasks"):  # API < 2.31 and >= 2.31 links
        page = ui.client.get(f"/projects/{project}/{kind}/{task_id}/output/log")
        assert page.status_code == 200
        assert "epoch 1 done\nepoch 2 done" in page.text
    star = ui.client.get(f"/projects/*/experiments/{task_id}/output/log")
    assert star.status_code == 200 and "epoch 2 done" in star.text


@pytest.mark.parametrize(
    ("alias", "target"),
    [("", "execution"), ("info-output", "output/log"), ("info-output/metrics/scalar", "output/scalars"),
     ("metrics/plots", "output/plots"), ("output/metrics/scalar", "output/scalars")],
)  # fmt: skip
def test_clearml_tab_aliases_redirect(ui: UI, alias: str, target: str) -> None:
    task_id = ui.task("t")
    ui.sign_in()
    response = ui.client.get(f"/projects/*/experiments/{task_id}/{alias}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/projects/*/experiments/{task_id}/{target}"


@pytest.mark.parametrize(
    "tab",
    ["execution", "hyper-params", "hyper-params/hyper-param/General", "hyper-params/configuration/cfg", "general",
     "output/log", "output/scalars", "output/plots", "output/debugImages", "artifacts", "artifacts/output-model/m",
     "models", "output/execution"],
)  # fmt: skip
def test_every_tab_renders(ui: UI, tab: str) -> None:
    task_id = ui.task("t", lr=("0.1", "float"))
    ui.sign_in()
    assert ui.client.get(f"/projects/*/experiments/{task_id}/{tab}").status_code == 200


def test_user_reported_text_renders_as_text(ui: UI) -> None:
    task_id = ui.task(XSS, lr=(XSS, "str"))
    ui.api("tasks.edit", {"task": task_id, "tags": [XSS]})
    ui.log(task_id, f"line {XSS}")
    plot = {"data": [{"type": "scatter", "x": [1], "y": [2], "name": "</script><script>alert(2)</script>"}],
            "layout": {"title": XSS}}  # fmt: skip
    ui.api("events.add_batch", lines=[{"type": "plot", "task": task_id, "metric": XSS, "variant": "v", "iter": 0,
                                       "plot_str": json.dumps(plot)}])  # fmt: skip
    ui.scalars(task_id, XSS, XSS, [1.0, 2.0])
    ui.sign_in()
    pages = [f"/projects/*/experiments/{task_id}/{tab}" for tab in
             ("output/log", "hyper-params", "general", "output/plots", "output/scalars")]  # fmt: skip
    pages += ["/projects/*/experiments", "/workers-and-queues"]
    for path in pages:
        text = ui.client.get(path).text
        assert "<script>alert" not in text, path
        assert "</script><script>" not in text, path
    log = ui.client.get(f"/projects/*/experiments/{task_id}/output/log").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in log
    figures = _figures(ui.client.get(f"/projects/*/experiments/{task_id}/output/plots").text)
    assert figures[0]["data"][0]["name"] == "</script><script>alert(2)</script>"  # intact for Plotly, inert in HTML


def test_unknown_ids_get_a_404_naming_them(ui: UI) -> None:
    ui.sign_in()
    cases = {
        "/projects/*/experiments/nosuchtask/output/log": "nosuchtask",
        "/projects/nosuchproject/experiments": "nosuchproject",
        "/projects/*/models/nosuchmodel/general": "nosuchmodel",
        "/compare?ids=a1,b2": "a1",
        "/ui/files/nothing/here.txt": "nothing/here.txt",
    }
    for path, name in cases.items():
        response = ui.client.get(path)
        assert response.status_code == 404, path
        assert name in response.text, path
    task_id = ui.task("t")
    bad_tab = ui.client.get(f"/projects/*/experiments/{task_id}/nosuchtab")
    assert bad_tab.status_code == 404 and "nosuchtab" in bad_tab.text


@pytest.mark.parametrize(
    "query",
    ["sort=bogus", "page=0", "page=abc", "page=999", "size=-3", "size=100000", "order=sideways", "status=nope",
     "cols=garbage", "sort=m:x/y"],
)  # fmt: skip
def test_bad_table_params_show_the_default_view_with_a_notice(ui: UI, query: str) -> None:
    ui.task("one")
    ui.sign_in()
    response = ui.client.get(f"/projects/*/experiments?{query}")
    assert response.status_code == 200
    assert 'class="notice"' in response.text
    assert ">one</a>" in response.text


def test_table_sorts_filters_pages_and_hides_archived(ui: UI) -> None:
    project = ui.api("projects.create", {"name": "tbl"})["id"]
    ids = [ui.task(f"run-{i:02d}", project, lr=(str(i / 10), "float")) for i in range(12)]
    for i, task_id in enumerate(ids):
        ui.scalars(task_id, "val", "acc", [i / 100])
    ui.api("tasks.edit", {"task": ids[3], "tags": ["keep"]})
    ui.api("tasks.archive", {"task": ids[0]})
    ui.sign_in()
    base = f"/projects/{project}/experiments"
    names = lambda text: re.findall(r">(run-\d\d)</a>", text)  # noqa: E731
    page = ui.client.get(f"{base}?cols=m:val/acc,p:General/lr&sort=m:val/acc&order=desc&size=25").text
    assert names(page) == [f"run-{i:02d}" for i in range(11, 0, -1)]  # archived run-00 hidden
    assert "<th><a" in page and "val/acc" in page and "General/lr" in page
    assert names(ui.client.get(f"{base}?archived=1").text) == ["run-00"]
    assert names(ui.client.get(f"{base}?tag=keep").text) == ["run-03"]
    assert names(ui.client.get(f"{base}?name=run-1").text) == ["run-11", "run-10"] or sorted(
        names(ui.client.get(f"{base}?name=run-1").text)
    ) == ["run-10", "run-11"]
    first = names(ui.client.get(f"{base}?sort=name&order=asc&size=25&page=1").text)
    assert first[0] == "run-01" and len(first) == 11
    assert names(ui.client.get(f"{base}?status=completed").text) == []


def test_scalars_are_downsampled_keeping_spikes(ui: UI) -> None:
    task_id = ui.task("long")
    values = [0.5] * 20_000
    values[12_345] = 99.0
    for start in range(0, len(values), 5000):
        lines = [{"type": "training_stats_scalar", "task": task_id, "metric": "loss", "variant": "train",
                  "value": values[i], "iter": i} for i in range(start, start + 5000)]  # fmt: skip
        ui.api("events.add_batch", lines=lines)
    ui.scalars(task_id, "loss", "val", [1.0, 0.5, 0.25])
    ui.sign_in()
    (figure,) = _figures(ui.client.get(f"/projects/*/experiments/{task_id}/output/scalars").text)
    train = next(t for t in figure["data"] if t["name"] == "train")
    assert 1000 < len(train["x"]) <= MAX_POINTS
    assert 99.0 in train["y"] and train["x"][train["y"].index(99.0)] == 12_345
    assert train["x"] == sorted(train["x"])
    val = next(t for t in figure["data"] if t["name"] == "val")
    assert val["y"] == [1.0, 0.5, 0.25]


def test_compare_highlights_differences_and_marks_the_best(ui: UI) -> None:
    ids = [ui.task(f"c{i}", lr=(lr, "float"), epochs=("3", "int")) for i, lr in enumerate(["0.1", "0.2", "0.3"])]
    for task_id, acc in zip(ids, [0.7, 0.9, 0.8], strict=True):
        ui.scalars(task_id, "validation", "accuracy", [acc / 2, acc])
        ui.scalars(task_id, "train", "loss", [0.2])  # a tie: no best to mark
    ui.sign_in()
    page = ui.client.get(f"/compare?ids={','.join(ids)}").text
    assert re.search(r'<tr class="differs"><th>General/lr</th>', page)
    assert re.search(r"<tr><th>General/epochs</th>", page)
    best = re.findall(r'<td class="num best">', page)
    assert best == []  # no search objective gives a direction: nothing marked (tests/ui/test_table_compare.py)
    figures = _figures(page)
    assert figures[0]["data"][0]["type"] == "scatter"
    assert figures[1]["data"][0]["type"] == "parcoords"
    assert figures[1]["data"][0]["dimensions"][-1]["label"] == "validation/accuracy"
    assert {t["name"] for t in figures[3]["data"]} == {"c0 · accuracy", "c1 · accuracy", "c2 · accuracy"}
    assert ui.client.get(f"/compare?ids={ids[0]}").status_code == 400


def test_models_table_and_page_show_champion_tags_and_weights(ui: UI) -> None:
    task_id = ui.task("trainer")
    model = ui.api(
        "models.create",
        {
            "name": "m1",
            "uri": "http://127.0.0.1:8008/files/p/t/m.bin",
            "task": task_id,
            "tags": ["champion"],
            "labels": {"neg": 0, "pos": 1},
            "framework": "ScikitLearn",
        },
    )
    ui.sign_in()
    table = ui.client.get("/models").text
    assert '<span class="tag tag-star">champion</span>' in table and ">m1</a>" in table
    page = ui.client.get(f"/projects/*/models/{model['id']}/general").text
    assert "pos" in page and "ScikitLearn" in page and 'href="/ui/files/p/t/m.bin"' in page


def test_optimizer_page_lists_its_trials_best_first(ui: UI) -> None:
    opt = ui.task(
        "Optimizing: t",
        objective_metric_title=("['validation']", "list"),
        objective_metric_series=("['accuracy']", "list"),
        objective_metric_sign=("['max']", "list"),
    )
    ui.api("tasks.edit", {"task": opt, "type": "optimizer"})
    trials = []
    for i, acc in enumerate([0.6, 0.9, 0.7]):
        trial = ui.api("tasks.clone", {"task": ui.task("t", lr=(str(i), "float")), "new_task_name": f"trial {i}",
                                       "new_task_parent": opt})["id"]  # fmt: skip
        ui.scalars(trial, "validation", "accuracy", [acc])
        trials.append(trial)
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{opt}/general").text
    assert re.findall(r">(trial \d)</a>", page) == ["trial 1", "trial 2", "trial 0"]
    assert f"/compare?ids={trials[1]}%2C{trials[2]}%2C{trials[0]}&amp;metric=validation%2Faccuracy" in page


def test_read_only_pages_never_write(ui: UI) -> None:
    task_id = ui.task("t", lr=("0.1", "float"))
    ui.scalars(task_id, "a", "b", [1.0])
    ui.log(task_id, "hello")
    db = ui.client.app.state.server.db  # type: ignore[attr-defined]
    before = db.query("SELECT collection, id, body FROM docs ORDER BY collection, id")
    events = db.query("SELECT COUNT(*) FROM events")
    ui.sign_in()
    for path in ["/projects", "/projects/*/experiments", "/models", "/workers-and-queues",
                 *(f"/projects/*/experiments/{task_id}/{t}" for t in ("execution", "hyper-params", "general",
                   "output/log", "output/scalars", "output/plots", "artifacts", "models"))]:  # fmt: skip
        assert ui.client.get(path).status_code == 200
    assert db.query("SELECT collection, id, body FROM docs ORDER BY collection, id") == before
    assert db.query("SELECT COUNT(*) FROM events") == events


def test_artifact_preview_and_download_through_the_session(ui: UI) -> None:
    task_id = ui.task("with files")
    files = ui.client.app.state.server.config.files_dir  # type: ignore[attr-defined]
    (files / "p" / "t").mkdir(parents=True)
    (files / "p" / "t" / "table.csv").write_text("a,b\n1,2\n")
    artifact = {"key": "table", "type": "pandas", "mode": "output", "uri": "http://127.0.0.1:8008/files/p/t/table.csv",
                "type_data": {"preview": f"a b {XSS}", "content_type": "text/csv"}}  # fmt: skip
    ui.api("tasks.add_or_update_artifacts", {"task": task_id, "artifacts": [artifact]})
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{task_id}/artifacts").text
    assert 'href="/ui/files/p/t/table.csv"' in page and f"a b {XSS}" not in page and "a b &lt;script&gt;" in page
    assert ui.client.get("/ui/files/p/t/table.csv").text == "a,b\n1,2\n"
    ui.client.cookies.clear()
    assert ui.client.get("/ui/files/p/t/table.csv", follow_redirects=False).status_code == 303


def test_downloads_never_leave_the_files_root(ui: UI) -> None:
    ui.sign_in()
    for path in ("../credentials.json", "..%2Fcredentials.json", "%2e%2e/server.db", "//etc/passwd"):
        response = ui.client.get(f"/ui/files/{path}")
        assert response.status_code in (403, 404), path
        assert "secret_key" not in response.text and "root:" not in response.text


def test_long_console_is_paged_newest_last(ui: UI) -> None:
    task_id = ui.task("chatty")
    ui.log(task_id, *(f"line {i:04d}" for i in range(1200)))
    ui.sign_in()
    url = f"/projects/*/experiments/{task_id}/output/log"
    last = ui.client.get(url).text
    assert "page 3 of 3" in last and "line 1199" in last and "line 0999" not in last
    assert last.index("line 1000") < last.index("line 1199")
    first = ui.client.get(url + "?page=1").text
    assert "line 0000" in first and "line 0499" in first and "line 0500" not in first
    bad = ui.client.get(url + "?page=9")
    assert bad.status_code == 200 and 'class="notice"' in bad.text and "line 1199" in bad.text


def test_dataset_and_model_links_resolve(ui: UI) -> None:
    project = ui.api("projects.create", {"name": "data"})["id"]
    dataset_task = ui.task("dataset", project)
    model = ui.api("models.create", {"name": "m", "uri": "file:///m.bin", "project": project})["id"]
    ui.sign_in()
    dataset = ui.client.get(f"/datasets/simple/{project}/experiments/{dataset_task}", follow_redirects=False)
    assert dataset.headers["location"] == f"/projects/{project}/experiments/{dataset_task}/artifacts"
    alias = ui.client.get(f"/models/{model}", follow_redirects=False)
    assert alias.headers["location"] == f"/projects/{project}/models/{model}/general"
    assert ui.client.get(f"/datasets/simple/{project}/experiments/nosuch").status_code == 404
