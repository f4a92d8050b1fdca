"""A search that prunes: why, on the trial's task and in the study; its analysis and cost on the optimizer task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.search import SearchEnv

PLOTS = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
plots = task.get_reported_plots()
props = task.get_user_properties(value_only=True)
print("RESULT " + json.dumps({"plots": [[p["metric"], p["variant"], p["iter"]] for p in plots], "props": props}))
"""

TASK = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
print("RESULT " + json.dumps({"status": str(task.status), "message": task.data.status_message,
                              "props": task.get_user_properties(value_only=True)}))
"""


def _poor_third_trial(search_env: SearchEnv, pruner: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Three 8-step curve trials, one at a time, the third far from the optimum: the summary and the study's trials."""
    space = search_env.space(
        trials=3,
        concurrency=1,
        pruner=pruner,
        parameters={
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/iterations": {"type": "categorical", "choices": [8]},
            "General/sleep_s": {"type": "categorical", "choices": [0.6]},
        },
        initial=[{"General/x": 0.35}, {"General/x": 0.3}, {"General/x": 1.0}],
    )
    summary = search_env.search(space, "--local-workers", "1")
    return summary, search_env.study(summary["study"])


def test_pruned_trial_says_why_and_the_optimizer_task_carries_the_analysis(search_env: SearchEnv) -> None:
    summary, trials = _poor_third_trial(search_env, {"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1})
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    poor = trials[2]
    why = poor["attrs"]["pruned_at"]
    step = why["step"]
    assert why["pruner"] == "MedianPruner" and step == max(poor["intermediate"])
    # the median of the two completed trials' values at that step, as Optuna computes it (maximising)
    at_step = sorted(t["intermediate"][step] for t in trials[:2])
    assert abs(why["threshold"] - sum(at_step) / 2) < 1e-9
    assert why["compared"] == max(poor["intermediate"].values()) < why["threshold"]
    assert "median of 2 completed trials" in why["reason"]

    task = search_env.env.run(TASK, poor["attrs"]["task_id"]).result
    assert task["status"] == "stopped"
    assert task["props"]["pruned_reason"] == why["reason"]
    assert task["message"].startswith("pruned by MedianPruner at step")

    log = Path(summary["log_file"]).read_text()
    assert "cannot report the search's analysis" not in log and "cannot explain" not in log, log[-3000:]
    optimizer = summary["optimizer_task_id"]
    reported = search_env.env.run(PLOTS, optimizer).result
    titles = {title for title, _, _ in reported["plots"]}
    for title in (
        "Optimization history",
        "Hyper-parameter importance (fANOVA)",
        "Hyper-parameter importance (PED-ANOVA)",
        "Slice plot",
        "Parallel coordinates",
        "Intermediate values (learning curves)",
        "Timeline (queued and running, per worker)",
        "Trials",
        "Cost",
        "Analysis notes",
    ):
        assert title in titles, sorted(titles)
    assert {it for _, _, it in reported["plots"]} == {0}  # one iteration: a refresh replaces the last
    assert float(reported["props"]["compute_s"]) > 0

    status = search_env.hpo("status", summary["study"], "--json")
    assert status.returncode == 0, status.stderr
    cost = json.loads(status.stdout)["cost"]
    assert cost["compute_s"] > 0 and set(cost["per_queue"]) == {"default"}
    assert cost["steps_saved"] == 8 - (step + 1) and cost["saved_by_pruning_s"] > 0
    text = search_env.hpo("status", summary["study"])
    assert "saved by pruning" in text.stdout and f"({cost['steps_saved']} steps)" in text.stdout, text.stdout

    # `hpo analyze` of our own optimizer task reads its study (the same analysis, reported again)
    again = search_env.hpo("analyze", optimizer, "--json")
    assert again.returncode == 0, again.stderr[-4000:]
    rebuilt = json.loads(again.stdout)
    assert rebuilt["source"] == f"study {summary['study']}"
    pruned = [row for row in rebuilt["trials"] if row["state"] == "pruned"]
    assert [row["pruned reason"] for row in pruned] == [why["reason"]]
    # given an objective, it is rebuilt from the child tasks instead, as any optimizer's: the same trials
    children = search_env.hpo("analyze", optimizer, "--objective", "validation/score", "--direction", "max", "--json")
    assert children.returncode == 0, children.stderr[-4000:]
    rows = json.loads(children.stdout)
    assert rows["source"] == "child tasks"
    assert [(r["trial"], r["state"]) for r in rows["trials"]] == [(0, "completed"), (1, "completed"), (2, "pruned")]
    assert rows["trials"][2]["pruned reason"] == why["reason"]
    assert rows["trials"][0]["General/x"] == rebuilt["trials"][0]["General/x"]


def test_asha_pruned_trial_names_its_rung_and_cutoff(search_env: SearchEnv) -> None:
    _, trials = _poor_third_trial(search_env, {"name": "asha", "min_resource": 2, "reduction_factor": 2})
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    why = trials[2]["attrs"]["pruned_at"]
    assert why["pruner"] == "SuccessiveHalvingPruner"
    assert why["threshold"] is not None and why["compared"] < why["threshold"]
    assert "rung" in why["reason"] and "cut-off" in why["reason"]
    task = search_env.env.run(TASK, trials[2]["attrs"]["task_id"]).result
    assert task["props"]["pruned_reason"] == why["reason"]
