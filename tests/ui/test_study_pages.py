"""The web UI's papercuts (issue 19.8), in process: favicon, hidden projects, console line count, tags, dates."""

from __future__ import annotations

import re

from tests.support.ui import UI


def test_favicon_answers_without_a_session(ui: UI) -> None:
    response = ui.client.get("/favicon.ico", follow_redirects=False)
    assert response.status_code == 200 and response.content.startswith(b"\x00\x00\x01\x00")  # an ICO file
    ui.sign_in()
    assert '<link rel="icon" href="/favicon.ico">' in ui.client.get("/projects").text


def _project_names(page: str) -> list[str]:
    table = page[page.index('<table id="projects">') :]
    return re.findall(r'<a href="/projects/[^"]+/experiments">([^<]+)</a>', table)


def test_dataset_projects_are_hidden_unless_asked_for(ui: UI) -> None:
    for name in ("P", "P/.datasets", "P/.datasets/reviews", "P/sub"):
        ui.api("projects.create", {"name": name})
    ui.sign_in()
    shown = ui.client.get("/projects").text
    assert _project_names(shown) == ["All experiments", "P", "sub"]
    assert "2 hidden projects" in shown and 'href="/projects?hidden=1"' in shown
    everything = ui.client.get("/projects?hidden=1").text
    assert _project_names(everything) == ["All experiments", "P", ".datasets", "reviews", "sub"]


def test_console_header_counts_lines_not_reports(ui: UI) -> None:
    task_id = ui.task("t")
    ui.log(task_id, "epoch 1\nepoch 2\nepoch 3\n", "done")  # the SDK batches lines into one report
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{task_id}/output/log").text
    header = re.search(r'<div class="pager" id="console-header">([^<]*)', page)
    assert header is not None and header.group(1).strip() == "4 lines"


def test_tags_in_one_order_each_with_a_remove_button(ui: UI) -> None:
    task_id = ui.task("t")
    ui.api("tasks.edit", {"task": task_id, "tags": ["zeta", "alpha", "mid"]})
    ui.sign_in()
    page = ui.client.get(f"/projects/*/experiments/{task_id}/general").text
    chips = re.findall(r'<input type="hidden" name="remove" value="([^"]+)">', page)
    assert chips == ["alpha", "mid", "zeta"]
    assert 'title="remove tag mid"' in page
    assert ui.post(f"/ui/actions/tasks/{task_id}/tags", {"remove": "mid"}).status_code == 303
    assert ui.api("tasks.get_by_id", {"task": task_id})["task"]["tags"] == ["zeta", "alpha"]
    table = ui.client.get("/projects/*/experiments").text
    assert table.index(">alpha</span>") < table.index(">zeta</span>")


def test_dates_are_readable_with_the_exact_value_in_a_tooltip(ui: UI) -> None:
    task_id = ui.task("t")
    created = ui.api("tasks.get_by_id", {"task": task_id})["task"]["created"]
    model = ui.api("models.create", {"name": "m", "uri": "file:///m.bin", "task": task_id})["id"]
    ui.api("models.add_or_update_metadata", {"model": model, "metadata": [
        {"key": "promoted_at", "value": "1764800000.5", "type": "float"},
        {"key": "evidence", "value": '{"gate": "passed", "delta": 0.01}', "type": "str"}]})  # fmt: skip
    ui.sign_in()
    readable = created[:19].replace("T", " ") + " UTC"
    page = ui.client.get(f"/projects/*/experiments/{task_id}/general").text
    assert f'<span title="{created}">{readable}</span>' in page
    model_page = ui.client.get(f"/projects/*/models/{model}/general").text
    assert re.search(r'<dt>Created</dt><dd><span title="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</span>', model_page)
    # ui.js turns these into a date and pretty JSON; the page marks them for it
    assert '<td class="meta-value" data-key="promoted_at">1764800000.5</td>' in model_page


def test_every_tab_renders_for_a_task_with_a_model_and_tags(ui: UI) -> None:
    task_id = ui.task("t", lr=("0.1", "float"))
    ui.api("tasks.edit", {"task": task_id, "tags": ["b", "a"]})
    model = ui.api("models.create", {"name": "t model", "uri": "file:///m.bin", "task": task_id, "tags": ["best"]})
    ui.api("tasks.add_or_update_model", {"task": task_id, "model": model["id"], "type": "output", "name": "t model"})
    ui.sign_in()
    for tab in ("execution", "hyper-params", "general", "output/log", "output/scalars", "output/plots", "artifacts",
                "models"):  # fmt: skip
        page = ui.client.get(f"/projects/*/experiments/{task_id}/{tab}")
        assert page.status_code == 200, tab
    assert ">t model</a>" in page.text and '<span class="tag tag-star">best</span>' in page.text
