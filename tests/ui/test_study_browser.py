"""The study view in a real browser (Debian's chromium, headless, Playwright) on a real ``hpo search``:
the view refreshes itself while the search runs, a trial's single-point chart is drawn, and its
Stop button ends the search (trials and controller).

Set ``HPO_UI_SCREENSHOTS=docs/images`` to refresh the README's study-view screenshot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hpo.server.ui import sign_in_link
from tests.support.browser import new_page
from tests.support.search import SearchEnv
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

STUDY = "live"
# A noisy series of 20 points: what smoothing is for.
NOISY = """
import json
from clearml import Task
task = Task.init(project_name="search tests", task_name="noisy")
for i in range(20):
    task.get_logger().report_scalar("loss", "train", value=1.0 / (i + 1) + (0.5 if i % 2 else 0.0), iteration=i)
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps(task.id))
"""


def _optimizer_url(search_env: SearchEnv) -> str:
    def url() -> str | None:
        try:
            return search_env.study_attrs(STUDY).get("optimizer_url")
        except (KeyError, FileNotFoundError):  # the study does not exist yet
            return None

    wait_for(lambda: url() is not None, timeout=180, interval=1.0, what="the search's optimizer task")
    found = url()
    assert found
    return found


def _trial_rows(page: Any) -> list[str]:
    return list(page.locator("#trials tr td:nth-child(2)").all_inner_texts())


def _scalar_controls(page: Any, url: str) -> None:
    """Smoothing adds a smoothed trace (the raw one kept faint), log scale and wall time change the axes."""
    page.goto(url)
    page.locator(".plot .main-svg").first.wait_for()
    chart = "document.querySelector('.scalars .plot')"
    assert page.evaluate(f"{chart}.data.length") == 1
    page.locator("[name=smoothing]").fill("0.9")
    traces = page.evaluate(f"{chart}.data.map(t => [t.name, t.y])")
    assert [name for name, _ in traces] == ["train", "train (smoothed)"]
    raw, smoothed = traces[0][1], traces[1][1]

    def jump(ys: list[float]) -> float:
        return max(abs(a - b) for a, b in zip(ys, ys[1:], strict=False))

    assert jump(smoothed) < jump(raw)
    page.locator("[name=log_y]").check()
    assert page.evaluate(f"{chart}.layout.yaxis.type") == "log"
    page.select_option("[name=x_axis]", "wall")
    assert page.evaluate(f"{chart}.layout.xaxis.type") == "date"


def test_study_view_refreshes_while_the_search_runs_and_stops_it(search_env: SearchEnv, browser: Any) -> None:
    from playwright.sync_api import expect

    shots = Path(os.environ.get("HPO_UI_SCREENSHOTS") or search_env.root / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    # one point per trial (iterations=1): the scalar chart a template's summary metric draws
    noisy = search_env.env.run(NOISY).result
    space = search_env.space(trials=200, concurrency=2, fixed={"General/iterations": 1, "General/sleep_s": 1.5})
    with search_env.start("search", str(space), "--local-workers", "2", "--study", STUDY) as controller:
        url = _optimizer_url(search_env)
        server = search_env.env.server
        page = new_page(browser, height=1000)
        context = page.context
        page.goto(sign_in_link(server.credentials(), server.url))
        page.goto(url)
        assert page.locator("nav.tabs a.on").inner_text() == "Study"
        # whichever is true now: the analysis the optimizer carries, or the sentence that it has none yet
        assert page.locator(".panel").count() > 0 or "carries no analysis yet" in page.locator("#study").inner_text()
        # live: the view changes without a reload (each refresh counts itself on the element)
        rows_before = len(_trial_rows(page))
        wait_for(lambda: page.locator("#study").get_attribute("data-refreshed") not in (None, "0"),
                 timeout=60, interval=0.5, what="a live refresh")  # fmt: skip
        wait_for(lambda: len(_trial_rows(page)) > rows_before and "completed" in _trial_rows(page),
                 timeout=180, interval=1.0, what="new and completed trials without a reload")  # fmt: skip
        page.evaluate("window.__same_page = true")  # gone if anything reloaded the page
        # the controller reports its analysis as trials end: it arrives here by the live refresh
        history = page.locator(".panel h3", has_text="Optimization history")
        wait_for(lambda: history.count() == 1, timeout=240, interval=1.0, what="the search's analysis")
        wait_for(lambda: page.locator(".panel .main-svg").count() >= page.locator(".panel").count(),
                 timeout=60, interval=0.5, what="every panel drawn")  # fmt: skip
        titles = page.locator(".panel h3").all_inner_texts()
        assert titles.index(history.inner_text()) < 3, titles  # history first (after notes, ClearML's objective)
        assert "carries no analysis yet" not in page.locator("#study").inner_text()
        assert page.evaluate("window.__same_page === true")
        page.screenshot(path=str(shots / "ui-study.png"), full_page=True)

        # a completed trial's single point is drawn (markers), not an empty chart
        trial = page.locator("#trials tr", has=page.locator("span.status-completed")).first.locator("a").first
        trial_url = server.url + str(trial.get_attribute("href")).replace("/output/log", "/output/scalars")
        other = context.new_page()
        other.goto(trial_url)
        expect(other.locator(".plot .main-svg").first).to_be_visible(timeout=60_000)
        assert other.evaluate("document.querySelectorAll('.plot .scatterlayer .point').length") >= 1

        _scalar_controls(other, f"{server.url}/projects/*/experiments/{noisy}/output/scalars")
        # the same controls on compare's overlays (the top trials, from the study view's link)
        other.goto(server.url + str(page.locator("a", has_text="Compare top 3").get_attribute("href")))
        other.locator(".scalars .plot .main-svg").first.wait_for()
        other.locator("[name=log_y]").check()
        overlays = "Array.from(document.querySelectorAll('.scalars .plot')).map(d => d.layout.yaxis.type)"
        assert set(other.evaluate(overlays)) == {"log"}
        assert other.evaluate("document.querySelector('#scatter .plot').layout.yaxis.type") != "log"
        other.close()

        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("button", has_text="Stop search").click()
        page.wait_for_url(url + "*")
        assert page.locator("span.status-stopped").first.is_visible()
        assert page.locator("#study-state").inner_text() == "search ended (stopped)"  # and it polls no more
        assert page.locator("#study").get_attribute("data-live") == "0"
        controller.wait(timeout=180)  # the controller sees its optimizer task stopped and ends
        live = [t for t in search_env.trials() if t["status"] in ("created", "queued", "in_progress")]
        assert live == []
        assert search_env.study_attrs(STUDY)["state"] == "stopped"
        context.close()


MODEL = """
import json
from pathlib import Path
from clearml import OutputModel, Task
task = Task.init(project_name="search tests", task_name="model page", output_uri=True)
Path("w.bin").write_bytes(b"w" * 16)
model = OutputModel(task=task, name="model page (curve)")
model.update_weights(weights_filename="w.bin", auto_delete_file=False, async_enable=False)
model.set_metadata("promoted_at", "1764800000.5", "float")
model.set_metadata("evidence", json.dumps({"gate": "passed", "delta": 0.01}), "str")
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps(model.id))
"""


def test_model_page_shows_dates_and_json_readable(search_env: SearchEnv, browser: Any) -> None:
    model = search_env.env.run(MODEL).result
    server = search_env.env.server
    context = browser.new_context()
    page = context.new_page()
    page.goto(sign_in_link(server.credentials(), server.url))
    page.goto(f"{server.url}/projects/*/models/{model}/general")
    promoted = page.locator("td[data-key=promoted_at]")
    assert promoted.inner_text() == "2025-12-03 22:13:20 UTC" and promoted.get_attribute("title") == "1764800000.5"
    evidence = page.locator("td[data-key=evidence] pre").inner_text()
    assert evidence == '{\n  "gate": "passed",\n  "delta": 0.01\n}'
    created = page.locator("dt:text-is('Created') + dd span")
    assert created.inner_text().endswith(" UTC") and "T" in str(created.get_attribute("title"))
    context.close()
