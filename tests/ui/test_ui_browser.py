"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright) against a real
server fed by real SDK scripts and a real ``hpo agent``.

One server, one agent and one browser serve the whole module, to keep the tier's cost small. Set
``HPO_UI_SCREENSHOTS=docs/images`` to refresh the README's screenshots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.agents import AgentEnv, start_agents_env
from tests.support.browser import new_page
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]  # module fixtures: built once, on one worker

QUEUE = "ui-queue"
XSS = "<script>alert(1)</script>"

# An ordinary ClearML script: argparse arguments, two scalar series, console lines.
TRAIN = """
import argparse, time
from clearml import Task

parser = argparse.ArgumentParser()
parser.add_argument("--name", default="train")
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--iterations", type=int, default=5)
parser.add_argument("--sleep_s", type=float, default=0.0)
parser.add_argument("--extras", action="store_true")
args = parser.parse_args()
task = Task.init(project_name="ui tests", task_name=args.name, reuse_last_task_id=False, output_uri=True)
logger = task.get_logger()
for i in range(args.iterations):
    logger.report_scalar("validation", "accuracy", value=args.lr * (i + 1), iteration=i)
    logger.report_scalar("train", "loss", value=1.0 / (i + 1), iteration=i)
print(f"TRAINED lr={args.lr} name={args.name}")
if args.extras:  # what the other tabs show: a table, an artifact, a model with labels
    from pathlib import Path
    from clearml import OutputModel
    logger.report_table("summary", "scores", iteration=0, table_plot=[["metric", "value"], ["accuracy", 0.5]])
    task.upload_artifact("notes", artifact_object={"lr": args.lr}, wait_on_upload=True)
    Path("weights.bin").write_bytes(b"w" * 64)
    model = OutputModel(task=task, name="run-a model", label_enumeration={"neg": 0, "pos": 1})
    model.update_weights(weights_filename="weights.bin", auto_delete_file=False)
end = time.time() + args.sleep_s
while time.time() < end:
    time.sleep(0.2)
"""


@dataclass
class Fed:
    agents: AgentEnv
    links: dict[str, str] = field(default_factory=dict)  # run name -> results page its console printed
    shots: Path = Path()


def _results_link(output: str) -> str:
    match = re.search(r"ClearML results page: (\S+)", output)
    assert match, f"no results page link in:\n{output}"
    return match.group(1)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    root = tmp_path_factory.mktemp("ui-browser")
    with start_agents_env(root) as agents:
        state = Fed(agents, shots=Path(os.environ.get("HPO_UI_SCREENSHOTS") or root / "shots"))
        state.shots.mkdir(parents=True, exist_ok=True)
        for name, lr, layers in (
            ("run-a", "0.1", "2"),
            ("run-b", "0.2", "2"),
            ("run-c", "0.3", "4"),
            (XSS, "0.05", "1"),
        ):
            extras = ["--extras"] if name == "run-a" else []
            out = agents.env.run(TRAIN, "--name", name, "--lr", lr, "--layers", layers, *extras).output
            state.links[name] = _results_link(out)
        agents.env.run(f"from clearml import Task\nTask.get_task(project_name='ui tests', task_name='run-a')"
                       f".get_logger().report_text({XSS!r})\n")  # fmt: skip
        agents.hpo("agent", "start", "--queue", QUEUE, "--workers", "1", "--poll-interval", "0.3")
        yield state


@pytest.fixture(scope="module")
def page(fed: Fed, browser: Any) -> Iterator[Any]:
    """A signed-in page: the one-time link that `hpo server ui` prints."""
    page = new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    link = fed.agents.hpo("server", "ui", "--data-dir", str(fed.agents.env.server.data_dir)).stdout.strip()
    page.goto(link)
    assert page.url.endswith("/projects")
    yield page
    page.context.close()
    assert dialogs == [], f"a page ran user-reported script: {dialogs}"


def _task_id(link: str) -> str:
    return link.split("/experiments/")[1].split("/")[0]


def _reload_until(page: Any, text: str, timeout: float = 120) -> None:
    def seen() -> bool:
        page.reload()
        return text in page.content()

    wait_for(seen, timeout=timeout, interval=1.0, what=f"{text!r} on {page.url}")


def test_unauthenticated_browser_gets_the_sign_in_page(fed: Fed, browser: Any) -> None:
    context = browser.new_context()
    try:
        anonymous = context.new_page()
        anonymous.goto(fed.links["run-a"])
        assert "/login?next=" in anonymous.url
        assert anonymous.locator("h1").inner_text() == "Sign in"
        assert "TRAINED" not in anonymous.content()
    finally:
        context.close()


def test_results_link_shows_the_console_and_a_rendered_scalar_chart(fed: Fed, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(fed.links["run-b"])
    expect(page.locator("#console")).to_contain_text("TRAINED lr=0.2 name=run-b", timeout=60_000)
    page.locator("nav.tabs a", has_text="Scalars").click()
    expect(page.locator(".plot .main-svg").first).to_be_visible(timeout=60_000)
    charts = page.evaluate(
        "Array.from(document.querySelectorAll('.plot')).map(d => [d.layout.title.text, d.data.map(t => t.y)])"
    )
    assert dict(charts)["validation"] == [[pytest.approx(0.2 * (i + 1)) for i in range(5)]]
    page.screenshot(path=str(fed.shots / "ui-scalars.png"), full_page=True)


def test_hostile_name_and_console_line_render_as_text(fed: Fed, page: Any) -> None:
    page.goto(fed.links[XSS])
    assert page.locator("h1").inner_text().startswith(XSS)
    page.goto(fed.links["run-a"])
    assert XSS in page.locator("#console").inner_text()
    assert page.locator("main script").count() == 0  # the console page has no script in its content


def test_compare_three_runs_highlights_the_differing_params(fed: Fed, page: Any) -> None:
    project = fed.links["run-a"].split("/projects/")[1].split("/")[0]
    page.goto(f"{fed.agents.env.server.url}/projects/{project}/experiments?cols=m:validation/accuracy,p:Args/lr"
              "&sort=m:validation/accuracy")  # fmt: skip
    for name in ("run-a", "run-b", "run-c"):
        page.locator("tr", has=page.locator(f"a:text-is('{name}')")).locator("input.pick").check()
    page.locator("#compare-selected").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    differing = page.locator("#params tr.differs th").all_inner_texts()
    assert "Args/lr" in differing and "Args/layers" in differing
    assert "Args/iterations" not in differing
    assert page.locator("#metrics td.best").count() == 0  # runs of no search: no direction is known (issue 19)
    page.locator(".plot .main-svg").first.wait_for()


def test_clone_edit_enqueue_on_an_agent_completes_with_the_new_value(fed: Fed, page: Any) -> None:
    page.goto(fed.links["run-a"].replace("/output/log", "/general"))
    page.fill("input[name=name]", "run-a edited")
    page.locator("form[action$='/clone'] button").click()
    page.wait_for_url(re.compile(r"/hyper-params$"))
    assert page.locator("h1").inner_text().startswith("run-a edited")
    page.fill("input[name='hp:Args/lr']", "0.7")
    page.screenshot(path=str(fed.shots / "ui-edit.png"), full_page=True)
    page.select_option("#edit-form select[name=queue]", label=QUEUE)
    page.locator("#edit-form button").click()
    page.wait_for_url(re.compile(r"/general$"))
    _reload_until(page, '<span class="status status-completed">completed</span>')
    page.locator("nav.tabs a", has_text="Configuration").click()
    row = page.locator("tr", has=page.locator("td:text-is('lr')"))
    assert row.locator("code").inner_text() == "0.7"
    page.locator("nav.tabs a", has_text="Console").click()
    assert "TRAINED lr=0.7" in page.locator("#console").inner_text()


def test_abort_a_running_task(fed: Fed, page: Any) -> None:
    out = fed.agents.env.run(
        f"""
import json
from clearml import Task
source = Task.get_task(task_id={_task_id(fed.links["run-c"])!r})
task = Task.clone(source_task=source, name="long run")
task.set_parameters({{"Args/sleep_s": 120}})
Task.enqueue(task, queue_name={QUEUE!r})
print("RESULT " + json.dumps(task.id))
"""
    )
    task_id = out.result
    page.goto(f"{fed.agents.env.server.url}/projects/*/experiments/{task_id}/general")
    _reload_until(page, '<span class="status status-in_progress">in_progress</span>')
    page.locator("form[action$='/abort'] button").click()
    _reload_until(page, '<span class="status status-stopped">stopped</span>', timeout=90)


def test_plots_artifacts_and_model_pages_of_a_real_run(fed: Fed, page: Any) -> None:
    from playwright.sync_api import expect

    base = fed.links["run-a"].removesuffix("/output/log")
    page.goto(base + "/output/plots")
    expect(page.locator(".plot .main-svg").first).to_be_visible(timeout=60_000)
    assert "accuracy" in page.locator(".plot").first.inner_text()
    page.goto(base + "/artifacts")
    download = page.locator("main a", has_text="download").first
    assert download.get_attribute("href").startswith("/ui/files/")  # type: ignore[union-attr]
    assert page.request.get(fed.agents.env.server.url + download.get_attribute("href")).ok  # type: ignore[operator]
    page.goto(base + "/models")
    page.locator("main a", has_text="run-a model").click()
    page.wait_for_url(re.compile(r"/models/[0-9a-f]+/general$"))
    assert "pos" in page.locator("main").inner_text()
    page.screenshot(path=str(fed.shots / "ui-model.png"), full_page=True)
    weights = page.locator("main a", has_text="download").get_attribute("href")
    assert page.request.get(fed.agents.env.server.url + weights).body() == b"w" * 64  # type: ignore[operator]


def test_queues_page_shows_the_agent(fed: Fed, page: Any) -> None:
    page.goto(fed.agents.env.server.url + "/workers-and-queues")
    assert QUEUE in page.locator("#queues").inner_text()
    _reload_until(page, ":hpo-0", timeout=30)
