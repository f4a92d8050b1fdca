"""``hpo search --warm-start PROJECT[/TAG]`` end to end: hand-run curve tasks, earlier trials, a tag filter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.support.search import CURVE, SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def _hand_run(
    env: SearchEnv, folder: str, defaults: dict[str, object], tags: list[str], script: str = "curve.py"
) -> str:  # noqa: E501
    """Run a copy of the curve script by hand (``python curve.py``) with other defaults; its task id."""
    code = CURVE
    for name, value in defaults.items():
        code = code.replace(f'"{name}": ', f'"{name}": {value!r}, "_{name}": ', 1)  # the default, then a spare key
    code = code.replace("logger = task.get_logger()", f"task.add_tags({tags!r})\nlogger = task.get_logger()")
    code += '\nimport json\nprint("RESULT " + json.dumps(task.id))\n'
    path = env.root / folder / script
    path.parent.mkdir(parents=True)
    path.write_text(code)
    vars = {**env.env.vars, "CLEARML_TASK_NO_REUSE": "1"}  # each run by hand is its own task
    proc = subprocess.run(
        [sys.executable, script], cwd=path.parent, env=vars, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(json.loads(next(line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT "))))


def test_warm_start_adds_hand_run_tasks_before_sampling(search_env: SearchEnv) -> None:
    near = _hand_run(search_env, "a", {"x": 0.32}, ["baseline"])
    far = _hand_run(search_env, "b", {"x": 0.9}, ["baseline"])
    outside = _hand_run(search_env, "c", {"x": 1.5}, ["baseline"])
    longer = _hand_run(search_env, "d", {"x": 0.4, "iterations": 5}, ["baseline"])
    untagged = _hand_run(search_env, "e", {"x": 0.5}, [])
    other_script = _hand_run(search_env, "f", {"x": 0.3}, ["baseline"], script="other.py")
    space = search_env.space(trials=2, concurrency=1, sampler={"name": "tpe", "seed": 3, "n_startup_trials": 2})

    source = "search tests/baseline"
    run = search_env.hpo("search", str(space), "--json", "--local-workers", "1", "--warm-start", source)
    assert run.returncode == 0, run.stderr[-6000:]
    summary = json.loads(run.stdout)
    warm = summary["warm_start"]
    assert (warm["project"], warm["tag"]) == ("search tests", "baseline")
    assert warm["added"] == [near, far], json.dumps(warm)  # oldest first
    skipped = {s["task_id"]: s["why"] for s in warm["skipped"]}
    assert skipped == {
        outside: "General/x='1.5' is outside [0, 1]",
        longer: "General/iterations='5', the search leaves at the template's default '3'",
    }
    assert untagged not in skipped and other_script not in skipped  # not in the source / not the template
    assert f"skipped 2: {outside} (General/x='1.5' is outside [0, 1])" in " ".join(run.stderr.split())
    # not counted against the budget: two launched trials besides the two warm ones
    assert summary["counts"]["warm-start"] == 2 and summary["counts"]["completed"] == 2
    trials = search_env.study(summary["study"])
    assert [t["attrs"]["state"] for t in trials] == ["warm-start", "warm-start", "completed", "completed"]
    assert [t["attrs"].get("warm_start_task_id") for t in trials[:2]] == [near, far]
    assert trials[0]["params"] == {"General/x": 0.32} and trials[1]["params"] == {"General/x": 0.9}
    assert trials[0]["values"][0] == 1.0 - (0.32 - 0.3) ** 2 and "task_id" not in trials[0]["attrs"]
    assert len(search_env.trials()) == 2  # only the launched trials were cloned

    # The sampler saw them: past its 2 random startup trials already, TPE proposed from the warm
    # trials exactly what it proposes in-process from them, not its cold random first pick.
    informed = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
    cold = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
    stored = optuna.load_study(study_name=summary["study"], storage=search_env.storage_url)
    for frozen in stored.get_trials()[:2]:
        informed.add_trial(frozen)
    expected = informed.ask().suggest_float("General/x", 0.0, 1.0)
    assert trials[2]["params"]["General/x"] == expected
    assert cold.ask().suggest_float("General/x", 0.0, 1.0) != expected

    status = search_env.hpo("status", summary["study"])
    assert "+2 warm-start" in status.stdout, status.stdout

    # The whole project: the earlier search's trials (clones of the template) join too; already-added
    # tasks of a resumed study are not added twice.
    again = search_env.search(space, "--local-workers", "1", "--trials", "1", "--warm-start", "search tests")
    added = again["warm_start"]["added"]
    assert {near, far, untagged} <= set(added) and len(added) == 5, again["warm_start"]
    assert {t["attrs"]["task_id"] for t in trials[2:]} <= set(added)


def test_warm_start_with_no_matching_task_searches_cold(search_env: SearchEnv) -> None:
    space = search_env.space(trials=1, concurrency=1)
    run = search_env.hpo("search", str(space), "--json", "--local-workers", "1", "--warm-start", "search tests/none")
    assert run.returncode == 0, run.stderr[-6000:]
    summary = json.loads(run.stdout)
    message = "warm start: no completed task of template 'curve' in project 'search tests' with tag 'none'"
    assert summary["warm_start"]["message"] == message + "; searching cold"
    assert message in " ".join(run.stderr.split())
    assert summary["counts"]["completed"] == 1 and summary["counts"]["warm-start"] == 0


def test_warm_start_from_a_missing_project_fails_before_any_task(search_env: SearchEnv) -> None:
    space = search_env.space(trials=1)
    run = search_env.hpo("search", str(space), "--warm-start", "no such project/tag")
    assert run.returncode == 1
    out = " ".join((run.stdout + run.stderr).split())
    assert "--warm-start 'no such project/tag': no ClearML project 'no such project/tag'" in out, out
    assert search_env.trials() == []
    assert not Path(search_env.storage_url.removeprefix("sqlite:///")).exists() or not optuna.get_all_study_names(
        search_env.storage_url
    )
