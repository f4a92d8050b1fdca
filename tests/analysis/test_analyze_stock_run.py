"""``hpo analyze`` on a real run of ClearML's stock ``HyperParameterOptimizer`` with ``OptimizerOptuna``
(real server, real SDK, real agents): the analysis of a search that did not come from ``hpo search``."""

from __future__ import annotations

import json

from tests.support.search import SearchEnv

STOCK_RUN = """
import json
from clearml import Task
from clearml.automation import DiscreteParameterRange, HyperParameterOptimizer, UniformParameterRange
from clearml.automation.optuna import OptimizerOptuna

[base] = Task.query_tasks(project_name="search tests", task_name="^curve$", tags=["template:curve"])
task = Task.init(project_name="search tests", task_name="stock optuna", task_type=Task.TaskTypes.optimizer,
                 reuse_last_task_id=False)
optimizer = HyperParameterOptimizer(
    base_task_id=base,
    hyper_parameters=[UniformParameterRange("General/x", 0.0, 1.0), DiscreteParameterRange("General/iterations", [4])],
    objective_metric_title="validation", objective_metric_series="score", objective_metric_sign="max",
    optimizer_class=OptimizerOptuna, execution_queue="default", max_number_of_concurrent_tasks=2,
    total_max_jobs=4, max_iteration_per_job=10, min_iteration_per_job=1, pool_period_min=0.05)
# The stock reporter sleeps its report period (5 min by default) between reports, and stop() after wait()
# joins it without waking it: a search that outlasts the first report (15 s; a loaded machine) then hangs
# in stop() for up to 5 min. A short period is ClearML's own way out (public API).
optimizer.set_report_period(0.05)
optimizer.start()
optimizer.wait()
optimizer.stop()
print("RESULT " + json.dumps(task.id))
"""


def test_analyze_a_real_stock_optuna_run(search_env: SearchEnv) -> None:
    agents = search_env.hpo("agent", "start", "--queue", "default", "--workers", "2", "--poll-interval", "0.3")
    assert agents.returncode == 0, agents.stderr[-3000:]
    optimizer = str(search_env.env.run(STOCK_RUN, timeout=400).result)
    run = search_env.hpo("analyze", optimizer, "--json")
    assert run.returncode == 0, run.stderr[-4000:]
    out = json.loads(run.stdout)
    assert out["source"] == "child tasks"
    trials = out["trials"]
    assert len(trials) == 4 and {t["state"] for t in trials} == {"completed"}, trials
    for trial in trials:
        x = float(trial["General/x"])
        assert abs(float(trial["validation/score"]) - (1.0 - (x - 0.3) ** 2)) < 1e-3  # the curve's last report
        assert trial["worker"] and float(trial["run (s)"]) > 0
    plotted = {title for title, _ in out["plots"]}
    assert {"Optimization history", "Hyper-parameter importance (fANOVA)", "Slice plot"} <= plotted
    assert "Timeline (queued and running, per worker)" in plotted
    notes = " | ".join(f"{chart}: {missing}" for chart, missing in out["notes"])
    assert "General/iterations never varied" in notes, notes
    assert out["cost"]["compute_s"] > 0 and out["cost"]["timed_trials"] == 4
    assert list(out["cost"]["per_queue"]) == ["default"]  # the queue's name, not its id
