"""``hpo analyze TASK_ID`` on an optimizer task made by ClearML's own ``HyperParameterOptimizer`` (real server, SDK)."""

from __future__ import annotations

import json

from tests.support.search import SearchEnv

# A stock optimizer task as ClearML's HyperParameterOptimizer records it (its search space and objective),
# with child trials made by hand: three completed, one stopped after two of its four reports, one failed.
STOCK = """
import json
from clearml import Task
from clearml.automation import DiscreteParameterRange, HyperParameterOptimizer, LogUniformParameterRange
from clearml.automation import UniformParameterRange
from clearml.automation.optuna import OptimizerOptuna

base = Task.create(project_name="stock", task_name="base")
opt = Task.create(project_name="stock", task_name="stock optimizer", task_type="optimizer")
opt.mark_started(force=True)
HyperParameterOptimizer(
    base_task_id=base.id,
    hyper_parameters=[UniformParameterRange("General/x", 0.0, 1.0), DiscreteParameterRange("General/c", ["a", "b"]),
                      LogUniformParameterRange("General/lr", -3, -1)],
    objective_metric_title="validation", objective_metric_series="score", objective_metric_sign="max_global",
    optimizer_class=OptimizerOptuna, execution_queue="default", auto_connect_task=opt,
    max_iteration_per_job=4, total_max_jobs=5)
children = [(0.1, "a", 0.01, "completed", 4), (0.3, "b", 0.001, "completed", 4), (0.6, "a", 0.1, "completed", 4),
            (0.9, "b", 0.05, "stopped", 2), (0.5, "a", 0.002, "failed", 0)]
for i, (x, c, lr, end, steps) in enumerate(children):
    child = Task.clone(source_task=base, name=f"trial {i}", parent=opt.id)
    child.set_parameters({"General/x": x, "General/c": c, "General/lr": lr, "General/constant": 7})
    child.mark_started(force=True)
    for step in range(steps):
        child.get_logger().report_scalar("validation", "score", value=(1 - (x - 0.3) ** 2) * (step + 1) / 4,
                                         iteration=step)
    child.flush(wait_for_uploads=True)
    {"completed": child.mark_completed, "stopped": child.mark_stopped, "failed": child.mark_failed}[end](force=True)
print("RESULT " + json.dumps(opt.id))
"""

PLOTS = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
print("RESULT " + json.dumps(sorted({p["metric"] for p in task.get_reported_plots()})))
"""


def test_analyze_a_stock_optimizer_task_rebuilds_its_trials_from_its_children(search_env: SearchEnv) -> None:
    optimizer = str(search_env.env.run(STOCK).result)
    run = search_env.hpo("analyze", optimizer, "--json")
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout)
    assert out["source"] == "child tasks"
    plotted = {title for title, _ in out["plots"]}
    assert {
        "Optimization history",
        "Slice plot",
        "Parallel coordinates",
        "Intermediate values (learning curves)",
    } <= plotted
    assert "Timeline (queued and running, per worker)" in plotted
    notes = " ".join(missing for _, missing in out["notes"])
    assert "constant" not in notes  # not a searched parameter: never charted, never noted
    trials = {row["trial"]: row for row in out["trials"]}
    assert [trials[n]["state"] for n in range(5)] == ["completed", "completed", "completed", "pruned", "failed"]
    assert trials[1]["General/c"] == "b" and float(trials[1]["General/lr"]) == 0.001
    assert float(trials[1]["max of validation/score"]) == 1.0  # max_global: the largest report
    assert out["cost"]["full_steps"] == 4 and out["cost"]["steps_saved"] == 2  # the stopped child: a pruned trial
    reported = search_env.env.run(PLOTS, optimizer).result
    assert {"Optimization history", "Trials", "Cost", "Analysis notes"} <= set(reported)

    text = search_env.hpo("analyze", optimizer, "--objective", "validation/score", "--direction", "min")
    assert text.returncode == 0, text.stderr[-4000:]
    assert f"analysis reported onto task {optimizer} (from its child tasks)\n" in text.stdout  # one line
    assert "Optimization history" in text.stdout
    assert "A new study created" not in text.stdout + text.stderr  # Optuna's INFO log stays quiet


def test_analyze_says_what_is_wrong_with_its_input(search_env: SearchEnv) -> None:
    missing = search_env.hpo("analyze", "0" * 32)
    assert missing.returncode == 1 and "no task" in missing.stderr
    bad = search_env.hpo("analyze", "0" * 32, "--objective", "accuracy")
    assert bad.returncode == 1 and "TITLE/SERIES" in bad.stderr


EMPTY = """
import json
from clearml import Task
opt = Task.create(project_name="stock", task_name="stopped at once", task_type="optimizer")
opt.set_parameters({"General/opt/objective_metric_title": "['validation']",
                    "General/opt/objective_metric_series": "['score']", "General/opt/objective_metric_sign": "['max']"})
plain = Task.create(project_name="stock", task_name="not an optimizer")
print("RESULT " + json.dumps([opt.id, plain.id]))
"""


def test_analyze_an_optimizer_without_trials_says_so_instead_of_failing(search_env: SearchEnv) -> None:
    optimizer, plain = search_env.env.run(EMPTY).result
    run = search_env.hpo("analyze", optimizer)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "not shown: Trials: no trial was launched yet" in run.stdout
    reported = search_env.env.run(PLOTS, optimizer).result
    assert {"Trials", "Cost", "Analysis notes"} <= set(reported)  # what the study view then shows, in words
    wrong = search_env.hpo("analyze", plain, "--objective", "validation/score", "--direction", "max")
    assert wrong.returncode == 1 and "has no child tasks" in wrong.stderr
