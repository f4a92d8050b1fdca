"""``hpo dashboard`` watched in a real browser (Debian's chromium, headless, driven by Playwright)
while a real ``hpo search`` runs trials on real agents against the embedded server.

The browser never installs anything: Playwright drives the ``chromium`` binary on PATH.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from hpo.study import open_storage
from tests.support.browser import new_page
from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

WEB_HOST = "http://clearml-web.test:8080"  # never contacted: only the links point there
STUDY = "board"
TRIALS = 3

# A trivial template: a known curve over a few iterations, then a saved model. After its second point
# it waits for the test's gate file, so the browser sees the search running, deterministically. (Not
# after the first: the search reads a trial's series when its last iteration moves past 0.)
BOARD = """
import time
from pathlib import Path
from clearml import OutputModel, Task

task = Task.init(project_name="dashboard tests", task_name="board")
args = task.connect({"x": 0.5, "iterations": 3, "sleep_s": 0.2, "gate": ""})
logger = task.get_logger()
n = int(args["iterations"])
for i in range(n):
    value = (1.0 - (float(args["x"]) - 0.3) ** 2) * (i + 1) / n
    logger.report_scalar("validation", "score", value=value, iteration=i)
    logger.flush()
    deadline = time.monotonic() + 120
    while i == 1 and args["gate"] and not Path(args["gate"]).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(float(args["sleep_s"]))
Path("model.txt").write_text(str(args["x"]))
OutputModel(task=task, name="board").update_weights(weights_filename="model.txt", auto_delete_file=False)
"""

REGISTER = """
import json, sys
from clearml import Task
task = Task.create(project_name="dashboard tests", task_name="board", script=sys.argv[1], add_task_init_call=False,
                   force_single_script_file=True, binary="python3", packages=["clearml"])
task.set_parameters({"General/x": 0.5, "General/iterations": 3, "General/sleep_s": 0.2,
                     "General/gate": sys.argv[2]})
task.add_tags(["hpo-template", "template:board"])
print("RESULT " + json.dumps(task.id))
"""

OPTIMIZER_REPORTS = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
plots = [json.loads(p["plot_str"]).get("layout", {}).get("title", {}) for p in task.get_reported_plots()]
titles = sorted({(t.get("text") if isinstance(t, dict) else str(t)) or "" for t in plots})
print("RESULT " + json.dumps({"scalars": sorted(task.get_reported_scalars()), "plots": titles}))
"""


def _space(env: SearchEnv) -> Path:
    script = env.root / "board.py"
    script.write_text(textwrap.dedent(BOARD))
    env.env.run(REGISTER, str(script), str(_gate(env)))
    doc = {
        "template": "board",
        "objective": {"title": "validation", "series": "score", "direction": "max"},
        "trials": TRIALS,
        "concurrency": 2,
        "sampler": {"name": "random", "seed": 3},
        "parameters": {"General/x": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    path = env.root / "board.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _gate(env: SearchEnv) -> Path:
    """Trials wait after their second point until this file exists."""
    return env.root / "gate"


def _storage_url(env: SearchEnv) -> str:
    return f"sqlite:///{env.root / 'hpo_home' / 'studies.db'}"


def _wait_for_study(env: SearchEnv, search: subprocess.Popen[str], timeout: float = 180) -> None:
    db = env.root / "hpo_home" / "studies.db"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert search.poll() is None, f"hpo search ended before its study appeared:\n{_log(env, 'search')}"
        if db.exists():
            # open_storage: the search may be creating the schema at this moment (see hpo.study._rdb)
            storage = open_storage(_storage_url(env))
            names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
            if STUDY in names:
                return
        time.sleep(0.5)
    raise AssertionError(f"no study {STUDY!r} after {timeout} s:\n{_log(env, 'search')}")


def _log(env: SearchEnv, name: str) -> str:
    path = env.root / f"{name}.err"
    return path.read_text()[-6000:] if path.exists() else ""


@contextlib.contextmanager
def _search(env: SearchEnv, space: Path) -> Iterator[subprocess.Popen[str]]:
    """``hpo search`` in the background (stdout: its JSON summary); killed if still running at exit."""
    with open(env.root / "search.out", "w") as out, open(env.root / "search.err", "w") as err:
        args = env.hpo_args("search", str(space), "--study", STUDY, "--local-workers", "2", "--json")
        proc = subprocess.Popen(args, env=env.env.vars, stdout=out, stderr=err, text=True, cwd=env.root)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@contextlib.contextmanager
def _dashboard(env: SearchEnv) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``hpo dashboard`` as a user runs it (port 0 picks a free one); yields it and the URL it printed."""
    vars = dict(env.env.vars, CLEARML_WEB_HOST=WEB_HOST)
    args = env.hpo_args("dashboard", STUDY, "--port", "0", "--storage", _storage_url(env))
    with open(env.root / "dashboard.err", "w") as err:
        proc = subprocess.Popen(args, env=vars, stdout=subprocess.PIPE, stderr=err, text=True, cwd=env.root)
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), f"no URL from hpo dashboard:\n{_log(env, 'dashboard')}"
            yield proc, url
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


def test_dashboard_shows_a_running_search(search_env: SearchEnv, tmp_path: Path, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    space = _space(search_env)
    with _search(search_env, space) as search:
        _wait_for_study(search_env, search)
        with _dashboard(search_env) as (board, url):
            page = new_page(browser, height=1000)
            # While the search runs (its trials wait at the gate): running trials and their first points.
            page.goto(f"{url}/trials")
            expect(page.get_by_text("Trial 0", exact=True)).to_be_visible(timeout=60_000)
            _reload_until_visible(page, page.get_by_text("Running", exact=True).first)
            page.get_by_text("Trial 0", exact=True).click()
            _reload_until_visible(page, page.get_by_text(re.compile(r"^0 0\.\d+$")), then_click="Trial 0")
            page.screenshot(path=str(tmp_path / "dashboard-running.png"), full_page=True)
            assert search.poll() is None, "the search cannot end before the gate opens"
            _gate(search_env).touch()

            assert search.wait(timeout=240) == 0, f"hpo search failed:\n{_log(search_env, 'search')}"
            summary = json.loads((search_env.root / "search.out").read_text())
            study = optuna.load_study(study_name=STUDY, storage=_storage_url(search_env))
            finished = [t for t in study.get_trials() if t.state.is_finished()]
            assert len(finished) == TRIALS and summary["counts"]["completed"] == TRIALS, summary

            page.reload()
            _check_trial_list(page, expect, finished)
            page.screenshot(path=str(tmp_path / "dashboard-trials.png"), full_page=True)
            page.goto(url)
            _check_study_page(page, expect, study, finished)
            page.screenshot(path=str(tmp_path / "dashboard-study.png"), full_page=True)

            board.send_signal(signal.SIGTERM)  # stops as cleanly as Ctrl-C
            assert board.wait(15) == 0, _log(search_env, "dashboard")
    _check_optimizer_reports(search_env, study)


def _reload_until_visible(page: Any, locator: Any, then_click: str | None = None, timeout: float = 90) -> None:
    """Reload until ``locator`` shows (the search feeds the study while we watch)."""
    deadline = time.monotonic() + timeout
    while not locator.is_visible():
        assert time.monotonic() < deadline, f"not visible after {timeout} s: {locator}"
        page.wait_for_timeout(1000)
        page.reload()
        page.get_by_text("Trial 0", exact=True).wait_for(timeout=30_000)
        if then_click:
            page.get_by_text(then_click, exact=True).click()


def _check_trial_list(page: Any, expect: Any, finished: list[optuna.trial.FrozenTrial]) -> None:
    """Every finished trial is listed, with its ClearML attributes, its curve and a link to its task."""
    expect(page.get_by_text(f"{TRIALS} Trials", exact=True)).to_be_visible(timeout=30_000)
    for trial in finished:
        page.get_by_text(f"Trial {trial.number}", exact=True).click()
        expect(page.get_by_role("heading", name=f"Trial {trial.number} (trial_id=")).to_be_visible()
        attrs = trial.user_attrs
        for key in ("task_id", "queue", "state", "model_id"):
            expect(page.get_by_text(f"{key} {attrs[key]}", exact=True)).to_be_visible()
        link = page.get_by_role("link", name=f"Open task {attrs['task_id']} in the ClearML web UI")
        href = f"{WEB_HOST}/projects/*/experiments/{attrs['task_id']}/output/execution"
        expect(link).to_have_attribute("href", href)
        assert sorted(trial.intermediate_values) == [0, 1, 2], trial.intermediate_values
        for step, value in trial.intermediate_values.items():
            expect(page.get_by_text(f"{step} {value!r}", exact=True)).to_be_visible()


def _check_study_page(page: Any, expect: Any, study: optuna.Study, finished: list[optuna.trial.FrozenTrial]) -> None:
    """The best value the study holds, and every trial's learning curve."""
    expect(page.get_by_role("heading", name=f"Best Trial (number={study.best_trial.number})")).to_be_visible(
        timeout=30_000
    )
    expect(page.get_by_text(repr(study.best_value), exact=True)).to_be_visible()
    expect(page.get_by_text("Intermediate values", exact=True)).to_be_visible()
    for trial in finished:
        expect(page.get_by_text(f"trial #{trial.number}", exact=True).first).to_be_visible()


def _check_optimizer_reports(env: SearchEnv, study: optuna.Study) -> None:
    """The optimizer task's own reports (what ClearML's web UI shows) cover our strategy's trials."""
    reports = env.env.run(OPTIMIZER_REPORTS, str(study.user_attrs["optimizer_task_id"])).result
    assert "remaining budget" in reports["scalars"], reports
    assert "Optimization Objective" in reports["plots"], reports
