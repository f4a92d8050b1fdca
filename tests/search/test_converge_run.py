"""``hpo search --stop-when converged`` end to end: real server, real agents, the curve template reporting its noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

OPTIMIZER = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
print("RESULT " + json.dumps({"status": str(task.status), "message": task.data.status_message}))
"""


def test_search_ends_when_converged_and_records_why(search_env: SearchEnv) -> None:
    # A noise (score_se 5.0) far above anything the curve (0.51..1.0) leaves to gain: converged at
    # the first evaluation, after --converge-min-trials trials, well before the budget of 12.
    space = search_env.space(trials=12, concurrency=1, fixed={"General/se": 5.0})
    run = search_env.hpo(
        "search", str(space), "--json", "--local-workers", "1", "--stop-when", "converged", "--converge-min-trials", "4"
    )
    assert run.returncode == 0, run.stderr[-6000:]
    summary = json.loads(run.stdout)
    reason = summary["stop_reason"]
    assert summary["state"] == "finished" and reason.startswith("converged: regret bound "), summary
    assert reason.endswith("<= noise 5 after 4 trials"), reason
    assert summary["counts"]["completed"] == 4 and summary["budget"] == 12
    assert summary["convergence"]["converged"] is True and summary["convergence"]["noise"] == 5.0
    assert "standard error trial" in summary["convergence"]["noise_source"]
    trials = search_env.study(summary["study"])
    assert len(trials) == 4 and {t["state"] for t in trials} == {"COMPLETE"}
    assert {t["attrs"]["objective_se"] for t in trials} == {5.0}
    # ended like a budget end: nothing queued or running, the optimizer task completed with the reason
    assert {t["status"] for t in search_env.trials()} == {"completed"}
    assert search_env.queue_entries().get("default", 0) == 0
    optimizer = search_env.env.run(OPTIMIZER, summary["optimizer_task_id"]).result
    assert optimizer == {"status": "completed", "message": reason}
    # promotion ran as after any finished search (the curve saves no model, so it says so)
    log = Path(summary["log_file"]).read_text()
    assert "promotion failed" in log and "saved no output model" in log

    status = search_env.hpo("status", summary["study"])
    assert status.returncode == 0 and f"finished: {reason}" in " ".join(status.stdout.split()), status.stdout


def test_search_runs_its_budget_when_the_noise_is_tiny(search_env: SearchEnv) -> None:
    space = search_env.space(trials=5, concurrency=2, fixed={"General/se": 1e-9})
    summary = search_env.search(space, "--local-workers", "2", "--stop-when", "converged", "--converge-min-trials", "3")
    assert summary["state"] == "finished" and summary["stop_reason"] == "finished"
    assert summary["counts"]["completed"] == 5
    assert summary["convergence"]["converged"] is False and summary["convergence"]["regret_bound"] > 1e-9


def test_bad_stop_when_fails_before_any_task(search_env: SearchEnv) -> None:
    space = search_env.space()
    run = search_env.hpo("search", str(space), "--stop-when", "soon")
    assert run.returncode == 1
    assert "--stop-when 'soon' is unknown; use --stop-when converged" in run.stderr + run.stdout
    two = search_env.space(
        "two",
        objective=[
            {"title": "validation", "series": "score", "direction": "max"},
            {"title": "validation", "series": "cost", "direction": "min"},
        ],
        sampler={"name": "nsga2", "seed": 1},
    )
    run = search_env.hpo("search", str(two), "--stop-when", "converged")
    assert run.returncode == 1 and "needs a single objective" in run.stderr + run.stdout
    assert search_env.trials() == []
