"""``hpo search`` end to end with the real server and real agents, on the fast ``curve`` template."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import optuna
import pytest

from hpo._processes import pid_alive
from hpo.agents import read_state
from tests.support.search import Running, SearchEnv
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def test_search_completes_with_exact_trial_count(search_env: SearchEnv) -> None:
    # `fixed` arguments reach every trial without being searched: 4 iterations instead of the template's 3
    space = search_env.space(trials=5, concurrency=2, fixed={"General/iterations": 4})
    run = search_env.hpo("search", str(space), "--json", "--local-workers", "2", "--dashboard", "--dashboard-port", "0")
    assert run.returncode == 0, run.stderr[-6000:]
    assert "optuna-dashboard: http://127.0.0.1:" in run.stderr  # served beside the search, stopped with it
    summary = json.loads(run.stdout)
    assert summary["state"] == "finished"
    assert summary["counts"]["completed"] == 5
    tasks = search_env.trials()
    assert len(tasks) == 5, tasks
    assert {t["status"] for t in tasks} == {"completed"}
    assert {t["params"]["iterations"] for t in tasks} == {"4"}
    trials = search_env.study(summary["study"])
    assert sorted(t["attrs"]["task_id"] for t in trials) == sorted(t["id"] for t in tasks)
    for trial in trials:
        assert trial["state"] == "COMPLETE"
        assert trial["attrs"]["queue"] == "default"
        assert trial["attrs"]["state"] == "completed"
        # intermediate values are the reported series, at the iterations the trial reported
        x = trial["params"]["General/x"]
        expected = {i: (1.0 - (x - 0.3) ** 2) * (i + 1) / 4 for i in range(4)}
        assert trial["intermediate"].keys() <= expected.keys()
        for step, value in trial["intermediate"].items():
            assert abs(value - expected[step]) < 1e-6
        assert abs(trial["values"][0] - expected[3]) < 1e-6
        assert "General/iterations" not in trial["params"]  # fixed, not searched
    best = max(trials, key=lambda t: t["values"][0])
    assert summary["best"]["task_id"] == best["attrs"]["task_id"]
    assert search_env.queue_entries().get("default", 0) == 0

    status = search_env.hpo("status", summary["study"], "--json")
    assert status.returncode == 0, status.stderr
    listed = search_env.hpo("studies", "--json")
    assert summary["study"] in listed.stdout

    # ClearML's own lines go to the search's log file, not to the terminal
    log = Path(summary["log_file"]).read_text()
    for line in SDK_LINES:
        assert line in log, log[-4000:]
        assert line not in run.stderr, run.stderr[-4000:]
    assert search_env.study_attrs(summary["study"])["log_file"] == summary["log_file"]


# What the ClearML SDK and its optimizer log or print during every search.
SDK_LINES = ("Auto Connect optimizer_class disabled", "Progress report #0 completed")


def test_two_objectives_with_nsga2(search_env: SearchEnv) -> None:
    objectives = [
        {"title": "validation", "series": "score", "direction": "max"},
        {"title": "validation", "series": "cost", "direction": "min"},
    ]
    space = search_env.space(trials=4, concurrency=2, objective=objectives, sampler={"name": "nsga2", "seed": 2})
    run = search_env.hpo("search", str(space), "--json", "--local-workers", "2", "--verbose")
    assert run.returncode == 0, run.stderr[-6000:]
    assert all(line in run.stderr for line in SDK_LINES), run.stderr[-6000:]  # --verbose shows them too
    summary = json.loads(run.stdout)
    assert summary["state"] == "finished" and summary["counts"]["completed"] == 4
    trials = search_env.study(summary["study"])
    for trial in trials:
        x = trial["params"]["General/x"]
        assert trial["state"] == "COMPLETE"
        assert trial["values"] == pytest.approx([1.0 - (x - 0.3) ** 2, x])
    best = summary["best"]["value"]

    def dominates(a: list[float], b: list[float]) -> bool:
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    assert not [t for t in trials if dominates(t["values"], best)], "the reported best is not on the Pareto front"


def test_failing_trials_do_not_end_the_search_and_are_retried(search_env: SearchEnv) -> None:
    space = search_env.space(
        trials=4,
        concurrency=2,
        parameters={
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/fail": {"type": "categorical", "choices": [0, 1]},
        },
        initial=[{"General/x": 0.1, "General/fail": 1}, {"General/x": 0.2, "General/fail": 0}],
    )
    summary = search_env.search(space, "--local-workers", "2", "--retries", "1")
    assert summary["state"] == "finished"
    trials = search_env.study(summary["study"])
    assert len(trials) == 4
    failed = [t for t in trials if t["params"]["General/fail"] == 1]
    assert failed and trials[0] in failed
    for trial in failed:
        assert trial["state"] == "FAIL" and trial["attrs"]["state"] == "failed"
        assert len(trial["attrs"]["failed_task_ids"]) == 1  # ran once more before giving up
    for trial in trials:
        if trial not in failed:
            assert trial["state"] == "COMPLETE"
    tasks = search_env.trials()
    assert len(tasks) == 4 + len(failed)
    assert sum(t["status"] == "failed" for t in tasks) == 2 * len(failed)


@pytest.mark.parametrize(
    "pruner",
    [
        {"name": "median", "n_startup_trials": 2, "n_warmup_steps": 1},
        # Multi-fidelity: the resource is the reported iteration; rungs at iterations 2, 4, 8.
        {"name": "asha", "min_resource": 2, "reduction_factor": 2},
    ],
    ids=["median", "asha"],
)
def test_pruning_stops_a_trial_whose_curve_is_poor(search_env: SearchEnv, pruner: dict[str, object]) -> None:
    space = search_env.slow_space(
        trials=3,
        concurrency=1,
        pruner=pruner,
        sleep_s=0.6,
        iterations=8,
        # the second beats the first at every step, which ASHA (best half of two promoted) needs
        initial=[{"General/x": 0.35}, {"General/x": 0.3}, {"General/x": 1.0}],
    )
    summary = search_env.search(space, "--local-workers", "1")
    trials = search_env.study(summary["study"])
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert set(trials[0]["intermediate"]) == set(range(8))
    poor = trials[2]
    assert poor["attrs"]["state"] == "pruned"
    assert poor["intermediate"] and max(poor["intermediate"]) < 7
    [task] = [t for t in search_env.trials() if t["id"] == poor["attrs"]["task_id"]]
    assert task["status"] == "stopped"
    assert summary["counts"]["pruned"] == 1 and summary["counts"]["completed"] == 2


def test_resume_after_kill_finishes_the_budget_without_rerunning(search_env: SearchEnv) -> None:
    space = search_env.slow_space(trials=6, concurrency=2, sleep_s=0.7)
    with search_env.start("search", str(space), "--local-workers", "2", "--study", "resumable") as controller:
        controller.until(
            lambda: sum(t["state"] == "COMPLETE" for t in search_env.study_so_far("resumable")) >= 2,
            what="two completed trials",
        )
    before = search_env.study("resumable")
    assert len(before) < 6
    summary = search_env.search(space, "--resume", "--study", "resumable", "--local-workers", "2")
    assert summary["state"] == "finished"
    everything = search_env.study("resumable")
    # The kill may land between asking Optuna for a trial and enqueuing its task: that trial is
    # failed on resume as never launched, and the budget does not count it.
    unlaunched = [t for t in everything if not t["attrs"].get("task_id")]
    assert all(t["state"] == "FAIL" and t["attrs"]["error"] == "never launched" for t in unlaunched), unlaunched
    trials = [t for t in everything if t["attrs"].get("task_id") and t["attrs"].get("state") != "duplicate"]
    assert len(trials) == 6 and {t["state"] for t in trials} == {"COMPLETE"}
    ids = [t["attrs"]["task_id"] for t in trials]
    assert len(set(ids)) == 6
    tasks = search_env.trials()
    assert sorted(t["id"] for t in tasks) == sorted(ids), (
        f"a trial ran twice or a task was left behind: {tasks} {everything}"
    )
    for trial in before:
        if trial["state"] == "COMPLETE":  # completed before the kill: kept, not rerun
            [after] = [t for t in trials if t["number"] == trial["number"]]
            assert after["attrs"]["task_id"] == trial["attrs"]["task_id"] and after["values"] == trial["values"]


CLONE = """
import json, sys
from clearml import Task
# as helper_create_job clones a trial: from the template, with the optimizer task as parent
print("RESULT " + json.dumps(Task.clone(source_task=sys.argv[1], parent=sys.argv[2], name=sys.argv[3]).id))
"""

EXISTS = """
import json, sys
from clearml import Task
print("RESULT " + json.dumps(bool(Task.query_tasks(task_filter={"id": [sys.argv[1]], "search_hidden": True}))))
"""


def test_resume_deletes_the_draft_of_a_trial_its_controller_never_enqueued(search_env: SearchEnv) -> None:
    space = search_env.space(trials=2)
    search_env.search(space, "--local-workers", "1", "--study", "cut")
    # What a controller killed between cloning a trial's task and recording it leaves behind:
    # a running Optuna trial without a task id, and a draft clone named after that trial.
    study = optuna.load_study(study_name="cut", storage=search_env.storage_url)
    trial = study.ask()
    trial.suggest_float("General/x", 0.0, 1.0)
    attrs = search_env.study_attrs("cut")
    draft = search_env.env.run(CLONE, attrs["template_id"], attrs["optimizer_task_id"], f"curve [cut #{trial.number}]")
    unrelated = search_env.env.run(
        CLONE, attrs["template_id"], attrs["optimizer_task_id"], f"curve [cut #{trial.number}] copy"
    )

    search_env.search(space, "--resume", "--study", "cut", "--trials", "3", "--local-workers", "1")

    trials = search_env.study("cut")
    assert trials[trial.number]["state"] == "FAIL" and trials[trial.number]["attrs"]["error"] == "never launched"
    launched = [t for t in trials if t["attrs"].get("task_id")]
    assert len(launched) == 3 and {t["state"] for t in launched} == {"COMPLETE"}
    assert search_env.env.run(EXISTS, draft.result).result is False, "the never-enqueued draft was left behind"
    assert search_env.env.run(EXISTS, unrelated.result).result is True, "a task of another name was deleted"


def _slow_search(search_env: SearchEnv, study: str, concurrency: int, iterations: int, *extra: str) -> Running:
    """A search of 2-second steps with one local agent, returned once one trial runs (or it ended)."""
    space = search_env.slow_space(trials=8, concurrency=concurrency, sleep_s=2.0, iterations=iterations)
    controller = search_env.start("search", str(space), "--local-workers", "1", "--study", study, *extra)
    try:
        controller.until(
            lambda: any(t["attrs"].get("state") == "running" for t in search_env.study_so_far(study)),
            what="a running trial or the controller's end",
            ended_ok=True,  # ended already (--time-limit)
        )
    except BaseException:
        controller.kill()
        raise
    return controller


def _assert_ended_cleanly(search_env: SearchEnv, study: str) -> None:
    assert search_env.study_attrs(study)["state"] == "stopped"
    assert search_env.queue_entries().get("default", 0) == 0
    tasks = search_env.trials()
    assert tasks and not [t for t in tasks if t["status"] in ("queued", "in_progress")], tasks
    trials = search_env.study(study)
    assert {t["state"] for t in trials} <= {"PRUNED", "FAIL"}, trials
    assert {t["attrs"]["state"] for t in trials if t["attrs"].get("task_id")} == {"stopped"}


def _reported_progress(search_env: SearchEnv, study: str) -> list[dict[str, object]]:
    status = search_env.hpo("status", study, "--json")
    assert status.returncode == 0, status.stderr
    active = json.loads(status.stdout)["active"]
    return [a for a in active if a["state"] == "running" and a["iteration"] is not None and a["value"] is not None]


def test_stop_with_queued_trials_leaves_nothing_queued_or_running(search_env: SearchEnv) -> None:
    with _slow_search(search_env, "stoppable", concurrency=4, iterations=10) as controller:
        # a running trial shows how far it got: its last reported iteration and objective value
        seen: list[dict[str, object]] = []
        wait_for(lambda: seen.extend(_reported_progress(search_env, "stoppable")) or seen, what="a trial's progress")
        assert 0 <= int(str(seen[0]["iteration"])) < 10 and 0 < float(str(seen[0]["value"])) <= 1, seen
        shown = search_env.hpo("status", "stoppable")
        assert "running trials" in shown.stdout and "iteration" in shown.stdout, shown.stdout
        stopped = search_env.hpo("stop", "stoppable", "--timeout", "90")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert controller.wait(timeout=60) == 0
    _assert_ended_cleanly(search_env, "stoppable")
    assert len(search_env.trials()) == 4 == len(search_env.study("stoppable"))


@pytest.mark.parametrize(("how", "exit_code", "reason"), [("sigterm", 143, "SIGTERM"), ("time-limit", 0, "time limit")])
def test_sigterm_and_time_limit_leave_nothing_queued_or_running(
    search_env: SearchEnv, how: str, exit_code: int, reason: str
) -> None:
    extra = ("--time-limit", "0.5") if how == "time-limit" else ()
    with _slow_search(search_env, "ended", 3, 30, *extra) as controller:
        if how == "sigterm":
            controller.send(signal.SIGTERM)
        assert controller.wait(timeout=120) == exit_code
    assert search_env.study_attrs("ended")["stop_reason"] == reason
    _assert_ended_cleanly(search_env, "ended")
    # one line, in the state word `hpo status` uses, with the reason; no "best None"
    output = controller.output  # what the controller printed
    assert f"ended: stopped ({reason}) after " in output and "None" not in output, output[-3000:]
    assert "[stopped: " + reason + "]" in search_env.hpo("status", "ended").stdout


def test_stop_after_the_controller_died_does_its_cleanup(search_env: SearchEnv) -> None:
    _slow_search(search_env, "dead", concurrency=3, iterations=30).kill()
    # Also what a kill while launching leaves: a trial without a task, and its draft.
    study = optuna.load_study(study_name="dead", storage=search_env.storage_url)
    unlaunched = study.ask()
    attrs = search_env.study_attrs("dead")
    draft = search_env.env.run(
        CLONE, attrs["template_id"], attrs["optimizer_task_id"], f"curve [dead #{unlaunched.number}]"
    ).result
    assert search_env.study_attrs("dead")["state"] == "running"
    assert "interrupted" in search_env.hpo("status", "dead").stdout
    agents = read_state(search_env.root / "hpo_home" / "searches" / "dead")
    assert [a for a in agents if pid_alive(a.pid)], "the search's local agent should outlive its controller"

    stopped = search_env.hpo("stop", "dead")

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "controller had died" in stopped.stdout and "stopped 1 local agent" in stopped.stdout, stopped.stdout
    _assert_ended_cleanly(search_env, "dead")
    assert search_env.env.run(EXISTS, draft).result is False, "the never-enqueued draft was left behind"
    assert search_env.study("dead")[unlaunched.number]["attrs"] == {"state": "failed", "error": "never launched"}
    assert not [a for a in agents if pid_alive(a.pid)]


def test_routing_across_two_queues_uses_both(search_env: SearchEnv) -> None:
    for queue in ("qa", "qb"):
        started = search_env.hpo("agent", "start", "--queue", queue, "--workers", "1", "--poll-interval", "0.3")
        assert started.returncode == 0, started.stderr
    space = search_env.space(trials=4, concurrency=2)
    summary = search_env.search(space, "--queue", "qa", "--queue", "qb")
    assert summary["state"] == "finished" and summary["counts"]["completed"] == 4
    queues = [t["attrs"]["queue"] for t in search_env.study(summary["study"])]
    assert set(queues) == {"qa", "qb"}
    tasks = search_env.trials()
    assert {t["status"] for t in tasks} == {"completed"}


def test_objective_value_min_is_each_trials_smallest_report_for_value_pruning_and_status(search_env: SearchEnv) -> None:
    # curve's score rises with the iteration: its min is the first report, its last the largest
    objective = {"title": "validation", "series": "score", "direction": "max", "value": "min"}
    space = search_env.space(trials=3, concurrency=2, objective=objective)
    summary = search_env.search(space, "--local-workers", "2")
    assert summary["state"] == "finished" and summary["counts"]["completed"] == 3
    assert summary["objectives"] == [["validation", "score", "max", "min"]]
    trials = search_env.study(summary["study"])
    for trial in trials:
        first = (1.0 - (trial["params"]["General/x"] - 0.3) ** 2) / 3
        assert abs(trial["values"][0] - first) < 1e-6, trial
        # the pruner saw the running min at each reported iteration: the first value throughout
        assert trial["intermediate"] and all(abs(v - first) < 1e-6 for v in trial["intermediate"].values()), trial
    best = max(trials, key=lambda t: t["values"][0])
    status = json.loads(search_env.hpo("status", summary["study"], "--json").stdout)
    assert status["best"]["value"] == best["values"][0] and status["best"]["task_id"] == best["attrs"]["task_id"]
    shown = " ".join(search_env.hpo("status", summary["study"]).stdout.split())  # rich may wrap it
    assert "best min of validation/score" in shown, shown
