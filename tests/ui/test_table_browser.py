"""The experiments table and compare in a real browser (Debian's chromium, headless, Playwright) against
a real server process, seeded over HTTP as the SDK reports: the column picker, a numeric filter, bulk
actions on a mix of tasks, auto-refresh, and compare with "hide identical".

Set ``HPO_UI_SCREENSHOTS=docs/images`` to refresh ``ui-experiments.png``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hpo.server.ui import sign_in_link
from tests.support.api import RawAPI, running_api
from tests.support.browser import new_page
from tests.support.waiting import wait_for

pytestmark = pytest.mark.xdist_group("ui-table-browser")

RUNS = [  # name, lr, layers, final accuracy, status, tags
    ("baseline", "0.1", "2", 0.71, "completed", ["baseline"]),
    ("wider", "0.2", "2", 0.78, "completed", ["sweep"]),
    ("deeper", "0.3", "4", 0.83, "completed", ["sweep", "best"]),
    ("long run", "0.05", "4", 0.64, "in_progress", ["sweep"]),
    ("draft", "0.4", "2", None, "created", []),
    ("diverged", "0.9", "2", 0.12, "failed", []),
]


@dataclass
class Seeded:
    api: RawAPI
    url: str
    project: str
    ids: dict[str, str]
    shots: Path


def _seed(api: RawAPI) -> tuple[str, dict[str, str]]:
    project = api.call("projects.create", {"name": "table demo"})["id"]
    api.call("queues.create", {"name": "gpu"})
    ids: dict[str, str] = {}
    for name, lr, layers, accuracy, status, tags in RUNS:
        task = api.call("tasks.create", {"name": name, "project": project, "type": "training", "tags": tags})["id"]
        params = [{"section": "Args", "name": k, "value": v, "type": t}
                  for k, v, t in (("lr", lr, "float"), ("layers", layers, "int"), ("epochs", "5", "int"))]  # fmt: skip
        api.call("tasks.edit_hyper_params", {"task": task, "hyperparams": params})
        if accuracy is not None:
            api.call("tasks.started", {"task": task})
            curve = [accuracy * (i + 1) / 5 for i in range(5)]
            series = [("validation", "accuracy", curve), ("train", "loss", [1 - a for a in curve])]
            lines = [{"type": "training_stats_scalar", "task": task, "metric": m, "variant": v, "value": y, "iter": i}
                     for m, v, ys in series for i, y in enumerate(ys)]  # fmt: skip
            body = "\n".join(json.dumps(line) for line in lines)
            sent = api.client.request("GET", "/v2.23/events.add_batch", content=body,
                                      headers={"Content-Type": "application/json-lines"})  # fmt: skip
            assert sent.status_code == 200, sent.text
            if status == "completed":
                api.call("tasks.completed", {"task": task})
            elif status == "failed":
                api.call("tasks.failed", {"task": task})
        ids[name] = task
    return project, ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("ui-table")
    with running_api(root / "server") as api:
        project, ids = _seed(api)
        shots = Path(os.environ.get("HPO_UI_SCREENSHOTS") or root / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Seeded(api, api.server.url, project, ids, shots)


@pytest.fixture(scope="module")
def page(seeded: Seeded, browser: Any) -> Iterator[Any]:
    page = new_page(browser, width=1500)
    page.on("dialog", lambda dialog: dialog.accept())  # the delete and reset confirmations
    page.goto(sign_in_link(seeded.api.server.credentials(), seeded.url, "/projects"))
    assert page.url.endswith("/projects")
    yield page
    page.context.close()


def _table(seeded: Seeded, query: str = "") -> str:
    return f"{seeded.url}/projects/{seeded.project}/experiments?sort=name&order=asc{query}"


def _names(page: Any) -> list[str]:
    return [n.strip() for n in page.locator("#experiments tbody td:nth-child(2) a").all_inner_texts()]


def _row(page: Any, name: str) -> Any:
    return page.locator("#experiments tbody tr", has=page.locator(f"a:text-is('{name}')"))


def test_column_picker_adds_a_metric_column(seeded: Seeded, page: Any) -> None:
    page.goto(_table(seeded))
    page.locator("#column-picker summary").click()
    page.get_by_label("mx validation/accuracy", exact=True).check()  # the picker applies at once
    page.wait_for_url(re.compile(r"cols=mx%3Avalidation%2Faccuracy"))
    header = page.locator("th[data-column='mx:validation/accuracy']")
    assert header.inner_text().startswith("validation/accuracy max")
    assert _row(page, "deeper").locator("td.num").last.inner_text() == "0.83"
    page.locator("#column-picker summary").click()
    page.get_by_label("Args/lr", exact=True).check()
    page.wait_for_url(re.compile(r"p%3AArgs%2Flr"))
    header.locator("a").click()  # sort by the new column, best first
    page.wait_for_url(re.compile(r"sort=mx%3Avalidation"))
    assert _names(page)[:3] == ["deeper", "wider", "baseline"]
    for name in ("deeper", "wider"):  # the footer's actions, live, in the screenshot
        _row(page, name).locator("input.pick").check()
    page.screenshot(path=str(seeded.shots / "ui-experiments.png"), full_page=True)


def test_numeric_filter_on_a_parameter_column(seeded: Seeded, page: Any) -> None:
    page.goto(_table(seeded, "&cols=p:Args/lr,m:validation/accuracy"))
    page.fill("input[name='ge.p:Args/lr']", "0.15")
    page.fill("input[name='le.p:Args/lr']", "0.5")
    page.press("input[name='le.p:Args/lr']", "Enter")
    page.wait_for_url(re.compile(r"le.p%3AArgs%2Flr=0.5"))
    assert _names(page) == ["deeper", "draft", "wider"]
    page.fill("input[name='ge.m:validation/accuracy']", "0.8")
    page.press("input[name='ge.m:validation/accuracy']", "Enter")
    page.wait_for_url(re.compile(r"ge.m%3Avalidation%2Faccuracy=0.8"))
    assert _names(page) == ["deeper"]


def test_bulk_abort_on_a_mix_applies_where_it_can_and_says_why_not(seeded: Seeded, page: Any) -> None:
    page.goto(_table(seeded))
    for name in ("long run", "baseline", "draft"):
        _row(page, name).locator("input.pick").check()
    assert page.locator("#selected-count").inner_text() == "3 selected"
    page.locator("#bulk-bar button[value=abort]").click()
    page.wait_for_url(re.compile(r"done="))
    notices = page.locator(".notice").all_inner_texts()
    assert notices[0] == "Abort: done for 1 of 3 selected; not applied to 2"
    assert any(n.startswith("Abort not applied to 'baseline': Invalid task status") for n in notices)
    assert any(n.startswith("Abort not applied to 'draft'") for n in notices)
    assert _row(page, "long run").locator(".status").inner_text() == "stopped"
    assert seeded.api.call("tasks.get_by_id", {"task": seeded.ids["baseline"]})["task"]["status"] == "completed"


def test_bulk_tag_enqueue_archive_and_delete(seeded: Seeded, page: Any) -> None:
    page.goto(_table(seeded))
    for name in ("draft", "diverged"):
        _row(page, name).locator("input.pick").check()
    page.fill("#bulk-bar input[name=add_tags]", "review")
    page.press("#bulk-bar input[name=add_tags]", "Enter")  # runs Tag, not the form's first button
    page.wait_for_url(re.compile(r"done="))
    assert "Tag: done for 2 experiments" in page.locator(".notice").first.inner_text()
    assert "review" in _row(page, "diverged").locator("td").nth(4).inner_text()
    for name in ("draft", "diverged"):
        _row(page, name).locator("input.pick").check()
    page.select_option("#bulk-bar select[name=queue]", label="gpu")
    page.locator("#bulk-bar button[value=enqueue]").click()
    page.wait_for_url(re.compile(r"done="))
    assert page.locator(".notice").first.inner_text() == "Enqueue: done for 2 of 2 selected"  # failed re-enqueues
    assert _row(page, "draft").locator(".status").inner_text() == "queued"
    # the tag filter: only the reviewed ones, then archive them and delete them from the archive
    page.goto(_table(seeded, "&tag=review"))
    assert _names(page) == ["diverged", "draft"]
    page.locator("#pick-all").check()
    page.locator("#bulk-bar button[value=archive]").click()
    page.wait_for_url(re.compile(r"done="))
    assert _names(page) == []
    page.goto(_table(seeded, "&tag=review&archived=1"))
    page.locator("#pick-all").check()
    page.locator("#bulk-bar button[value=delete]").click()  # confirmed by the dialog handler
    page.wait_for_url(re.compile(r"done="))
    assert page.locator(".notice").first.inner_text() == "Delete: done for 2 of 2 selected"
    assert seeded.api.call("tasks.get_all", {"id": [seeded.ids["draft"], seeded.ids["diverged"]]})["tasks"] == []


def test_auto_refresh_shows_a_status_change_without_a_reload(seeded: Seeded, page: Any) -> None:
    task = seeded.api.call("tasks.create", {"name": "fresh", "project": seeded.project, "type": "training"})["id"]
    page.goto(_table(seeded))
    _row(page, "fresh").locator("input.pick").check()
    page.evaluate("document.getElementById('experiments').dataset.refreshMs = '300'")
    page.locator("#auto-refresh").check()
    seeded.api.call("tasks.started", {"task": task})
    wait_for(lambda: _row(page, "fresh").locator(".status").inner_text() == "in_progress", timeout=30,
             interval=0.3, what="the row refreshed")  # fmt: skip
    assert _row(page, "fresh").locator("input.pick").is_checked()  # the selection survives a refresh
    page.locator("#auto-refresh").uncheck()
    seeded.api.call("tasks.stopped", {"task": task})


def test_compare_with_hide_identical(seeded: Seeded, page: Any) -> None:
    page.goto(_table(seeded))
    for name in ("baseline", "wider", "deeper"):
        _row(page, name).locator("input.pick").check()
    page.locator("#compare-selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    assert "Args/epochs" in page.locator("#params").inner_text()
    page.locator("#hide-identical").check()
    page.select_option("#compare-controls select[name=param]", "Args/lr")
    page.locator("#compare-controls button").click()
    page.wait_for_url(re.compile(r"hide_identical=1"))
    rows = page.locator("#params tr th:first-child").all_inner_texts()
    assert "Args/lr" in rows and "Args/layers" in rows and "Args/epochs" not in rows
    assert page.locator("#metrics td.best").count() == 0  # no search objective: no direction to mark
    page.locator("#scatter .main-svg").first.wait_for()
    points = page.evaluate("document.querySelector('#scatter .plot').data[0].x")
    assert sorted(points) == [0.1, 0.2, 0.3]
    page.locator(".plot .main-svg").last.wait_for()
    page.screenshot(path=str(seeded.shots / "ui-compare.png"), full_page=True)
