"""The experiments table at ClearML's level: column picker (last/min/max, parameters), column filters,
tag filters ANY/ALL/NOT, CSV export of the filtered and sorted rows. In process, seeded through the API."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.support.ui import UI

NAMES = re.compile(r'<a href="/projects/[^"]+/experiments/[0-9a-f]+/output/log">([^<]+)</a>')


def _seed(ui: UI) -> tuple[str, list[str]]:
    """Five runs in a project: lr 0.1..0.5, accuracy curves whose min/max/last differ, some tags."""
    project = ui.api("projects.create", {"name": "table"})["id"]
    ids = []
    tags = [["a"], ["a", "b"], ["b"], [], ["a", "b", "c"]]
    for i in range(5):
        task_id = ui.task(f"run-{i}", project, lr=(f"0.{i + 1}", "float"), opt=("adam" if i % 2 else "sgd", "str"))
        ui.scalars(task_id, "val", "acc", [0.5 + i / 8, 0.25 - i / 16, 0.375])  # max grows, min falls, last equal
        ui.api("tasks.edit", {"task": task_id, "tags": tags[i]})
        ids.append(task_id)
    return project, ids


def _names(text: str) -> list[str]:
    return NAMES.findall(text)


def test_column_picker_lists_each_metric_as_last_min_max_and_each_parameter(ui: UI) -> None:
    project, _ = _seed(ui)
    ui.sign_in()
    page = ui.client.get(f"/projects/{project}/experiments").text
    picker = page[page.index('id="column-picker"') : page.index("</details>")]
    for column in ("m:val/acc", "mn:val/acc", "mx:val/acc", "p:General/lr", "p:General/opt"):
        assert f'name="cols" value="{column}"' in picker
    # ticked boxes arrive as repeated cols= and become columns, each with its own header and values
    page = ui.client.get(f"/projects/{project}/experiments?cols=mx:val/acc&cols=mn:val/acc&sort=mx:val/acc").text
    assert 'name="cols" value="mx:val/acc" aria-label="mx val/acc" checked' in page
    assert re.search(r'data-column="mx:val/acc"><a [^>]+>val/acc <span class="muted">max</span>', page)
    assert _names(page) == ["run-4", "run-3", "run-2", "run-1", "run-0"]  # the max grows with i
    row = page[page.index("run-0</a>") :].split("</tr>")[0]
    assert re.findall(r'<td class="num">([\d.]+)</td>', row) == ["0.5", "0.25"]  # max then min of run-0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ge.p:General/lr=0.25", ["run-2", "run-3", "run-4"]),
        ("ge.p:General/lr=0.15&le.p:General/lr=0.35", ["run-1", "run-2"]),
        ("le.mn:val/acc=0.1", ["run-3", "run-4"]),
        ("eq.p:General/opt=adam", ["run-1", "run-3"]),
        ("eq.p:General/lr=0.30", ["run-2"]),  # numbers compare as numbers
        ("tag=a&tag=b", ["run-0", "run-1", "run-2", "run-4"]),  # any
        ("tag=a&tag=b&tag_op=all", ["run-1", "run-4"]),
        ("tag=a&not_tag=c", ["run-0", "run-1"]),
        ("not_tag=a", ["run-2", "run-3"]),
    ],
)  # fmt: skip
def test_column_and_tag_filters(ui: UI, query: str, expected: list[str]) -> None:
    project, _ = _seed(ui)
    ui.sign_in()
    page = ui.client.get(f"/projects/{project}/experiments?cols=p:General/lr,mn:val/acc&sort=name&order=asc&{query}")
    assert page.status_code == 200 and 'class="notice"' not in page.text
    assert _names(page.text) == expected


def test_filters_show_in_the_header_and_survive_sorting_links(ui: UI) -> None:
    project, _ = _seed(ui)
    ui.sign_in()
    page = ui.client.get(f"/projects/{project}/experiments?cols=p:General/lr&ge.p:General/lr=0.25&tag=a").text
    assert 'name="ge.p:General/lr" value="0.25"' in page
    sort_link = re.search(r'<a href="\?([^"]+)">Name</a>', page)
    assert sort_link and "ge.p%3AGeneral%2Flr=0.25" in sort_link.group(1) and "tag=a" in sort_link.group(1)


@pytest.mark.parametrize("query", ["ge.p:General/lr=abc", "le.bogus=1", "tag_op=some", "cols=q:x/y"])
def test_bad_filters_are_ignored_with_a_notice(ui: UI, query: str) -> None:
    project, _ = _seed(ui)
    ui.sign_in()
    page = ui.client.get(f"/projects/{project}/experiments?{query}")
    assert page.status_code == 200 and 'class="notice"' in page.text and len(_names(page.text)) == 5


def test_csv_export_has_every_filtered_row_sorted_with_the_extra_columns(ui: UI) -> None:
    project, ids = _seed(ui)
    hostile = ui.task("=HYPERLINK(1)", project)
    ui.sign_in()
    query = "cols=p:General/lr,mx:val/acc&sort=p:General/lr&order=asc&size=25&page=1&not_tag=c"
    response = ui.client.get(f"/ui/experiments.csv?project={project}&{query}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][-2:] == ["p:General/lr", "mx:val/acc"]
    assert [r[1] for r in rows[1:]] == ["run-0", "run-1", "run-2", "run-3", "'=HYPERLINK(1)"]  # no lr: last
    assert rows[4][0] == ids[3] and rows[4][-2:] == ["0.4", "0.875"]
    assert hostile == rows[-1][0]
    # the page links the export of what it shows
    page = ui.client.get(f"/projects/{project}/experiments?{query}").text
    link = re.search(r'id="export-csv" href="([^"]+)"', page)
    assert link and ui.client.get(link.group(1).replace("&amp;", "&")).text == response.text


def test_csv_export_needs_a_session_and_a_real_project(ui: UI) -> None:
    assert ui.client.get("/ui/experiments.csv", follow_redirects=False).status_code == 303
    ui.sign_in()
    assert ui.client.get("/ui/experiments.csv?project=nosuch").status_code == 404


def test_picker_offers_what_the_newest_tasks_report_in_a_big_project(ui: UI) -> None:
    from hpo.server.ui._dispatch import dispatch

    project = ui.api("projects.create", {"name": "big"})["id"]
    state = ui.client.app.state.server  # type: ignore[attr-defined]
    dispatch(state, *[("tasks.create", {"name": f"t{i}", "project": project}) for i in range(2000)])
    newest = ui.task("newest", project, fresh=("1", "int"))
    ui.scalars(newest, "late", "metric", [1.0])
    ui.sign_in()
    page = ui.client.get(f"/projects/{project}/experiments").text
    assert 'value="mx:late/metric"' in page and 'value="p:General/fresh"' in page
