"""Trials the controller itself stopped are not spent: a search stopped by SIGTERM (as Ctrl-C) while
trials run, then resumed, ends with exactly its budget of finished trials, and runs the stopped
trials' configurations again. Real server, real agent, the ``curve`` template."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

BUDGET = 4
FINISHED = {"completed", "pruned", "failed"}


def _counted(trial: dict[str, object]) -> bool:
    attrs = trial["attrs"]
    assert isinstance(attrs, dict)
    return bool(attrs.get("task_id")) and attrs.get("state") != "duplicate" and not attrs.get("interrupted")


@pytest.mark.timeout(600)
def test_resume_after_sigterm_reruns_the_stopped_trials_and_ends_with_the_budget(search_env: SearchEnv) -> None:
    # concurrency 2 with one local agent: one trial runs, the other waits in the queue
    space = search_env.slow_space(trials=BUDGET, concurrency=2, sleep_s=1.0, iterations=8)
    with search_env.start("search", str(space), "--local-workers", "1", "--study", "cut") as controller:
        controller.until(
            lambda: any(t["attrs"].get("state") == "running" for t in search_env.study_so_far("cut")),
            what="a running trial",
        )
        time.sleep(2.5)  # it reports a point a second: the stopped trial is cut short, not unstarted
        assert controller.stop(signal.SIGTERM, timeout=120) == 143, controller.tail()  # 128 + SIGTERM

    before = search_env.study("cut")
    cut = [t for t in before if t["attrs"].get("interrupted")]
    assert cut, before
    for trial in cut:
        # Not PRUNED though it reported points: samplers must not take it for a poor configuration.
        assert trial["state"] == "FAIL" and trial["attrs"]["state"] == "stopped", trial
        assert trial["attrs"]["interrupted"] == "SIGTERM"
    status = search_env.hpo("status", "cut", "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["counts"]["interrupted"] == len(cut) and shown["counts"]["stopped"] == 0
    assert shown["done"] == sum(_counted(t) for t in before) < BUDGET
    assert f"{len(cut)} interrupted (not spent)" in search_env.hpo("status", "cut").stdout

    summary = search_env.search(space, "--resume", "--study", "cut", "--local-workers", "1")

    assert summary["state"] == "finished"
    everything = search_env.study("cut")
    counted = [t for t in everything if _counted(t)]
    assert len(counted) == BUDGET and {t["attrs"]["state"] for t in counted} <= FINISHED, everything
    assert summary["done"] == BUDGET == sum(summary["counts"][label] for label in FINISHED)
    assert summary["counts"]["interrupted"] == len(cut) and summary["counts"]["stopped"] == 0
    # Each stopped configuration ran again, as the trial that waited for it.
    for trial in cut:
        [again] = [t for t in counted if t["attrs"].get("retry_of") == trial["number"]]
        assert again["params"] == trial["params"] and again["state"] == "COMPLETE", again
    # ClearML holds one task per counted trial and the stopped ones, none of them left running.
    tasks = {t["id"]: t["status"] for t in search_env.trials()}
    assert sorted(tasks) == sorted(t["attrs"]["task_id"] for t in counted + cut)
    assert {tasks[t["attrs"]["task_id"]] for t in cut} == {"stopped"}
