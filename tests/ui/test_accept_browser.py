"""Regressions found by trying issue 19's UI as a new user, checked where they showed: in a real browser
(Debian's chromium, headless, Playwright) against a real server process.

- The column picker opened from the end of the filters row, past the window's right edge: its last/min/max
  checkboxes were off-screen.
- Optuna's slice plot (300 px a parameter) overflowed its study panel over the next one and widened the
  whole page (the plots tab too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hpo.server.ui import sign_in_link
from tests.support.api import RawAPI, running_api
from tests.support.browser import new_page

pytestmark = pytest.mark.xdist_group("ui-accept-browser")

WIDTH = 1100


def _lines(api: RawAPI, lines: list[dict[str, Any]]) -> None:
    sent = api.client.request("GET", "/v2.23/events.add_batch", content="\n".join(json.dumps(x) for x in lines),
                              headers={"Content-Type": "application/json-lines"})  # fmt: skip
    assert sent.status_code == 200, sent.text


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawAPI, str, str]]:
    """A project whose tasks report long metric names (a wide picker) and an optimizer with a 2,400 px plot."""
    with running_api(tmp_path_factory.mktemp("ui-accept") / "server") as api:
        project = api.call("projects.create", {"name": "accept"})["id"]
        task = api.call("tasks.create", {"name": "run", "project": project, "type": "training"})["id"]
        names = [f"remaining budget/compute_time share of the search {i} %" for i in range(8)]
        _lines(api, [{"type": "training_stats_scalar", "task": task, "metric": n.split("/")[0],
                      "variant": n.split("/")[1], "value": 0.5, "iter": 0} for n in names])  # fmt: skip
        opt = api.call("tasks.create", {"name": "HPO accept", "project": project, "type": "optimizer"})["id"]
        scatter = [{"type": "scatter", "x": [0, 1], "y": [1, 2]}]
        _lines(api, [{"type": "plot", "task": opt, "metric": title, "variant": "score", "iter": 0,
                      "plot_str": json.dumps({"data": scatter, "layout": layout})}
                     for title, layout in (("Slice plot", {"width": 2400}), ("Optimization history", {}))])  # fmt: skip
        yield api, project, opt


@pytest.fixture(scope="module")
def page(seeded: tuple[RawAPI, str, str], browser: Any) -> Iterator[Any]:
    api = seeded[0]
    page = new_page(browser, WIDTH, 900)
    page.goto(sign_in_link(api.server.credentials(), api.server.url, "/projects"))
    assert page.url.endswith("/projects")
    yield page
    page.context.close()


def test_column_picker_opens_inside_the_window(seeded: tuple[RawAPI, str, str], page: Any) -> None:
    api, project, _ = seeded
    page.goto(f"{api.server.url}/projects/{project}/experiments")
    page.locator("#column-picker summary").click()
    box = page.locator("#column-picker .picker-body").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
    last = page.get_by_label("mx remaining budget/compute_time share of the search 7 %", exact=True)
    check = last.bounding_box()
    assert check is not None and check["x"] + check["width"] <= WIDTH  # the checkbox a user must reach


def test_a_wide_study_plot_stays_in_its_panel(seeded: tuple[RawAPI, str, str], page: Any) -> None:
    api, project, opt = seeded
    page.goto(f"{api.server.url}/projects/{project}/experiments/{opt}/general")
    panel = page.locator("section.panel", has=page.locator("h3", has_text="Slice plot"))
    panel.locator(".main-svg").first.wait_for()
    assert "wide" in (panel.get_attribute("class") or "")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH  # the page itself does not widen
    assert panel.evaluate("el => el.scrollWidth > el.clientWidth")  # the panel scrolls to the rest of the plot


def test_a_wide_plot_scrolls_on_the_plots_tab_too(seeded: tuple[RawAPI, str, str], page: Any) -> None:
    api, project, opt = seeded
    page.goto(f"{api.server.url}/projects/{project}/experiments/{opt}/output/plots")
    page.locator(".main-svg").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
