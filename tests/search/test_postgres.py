"""Searches on a PostgreSQL study storage: one study shared by controllers on "two machines" (each
its own ``HPO_HOME`` and local agents), resumed after a SIGKILL, and bad storage URLs.

The PostgreSQL is a real throwaway server (tests/support/postgres.py); the searches run the real
CLI or ``run_search`` against a real embedded ClearML server with real agents.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import optuna
import pytest

from tests.support.racing import assert_overlapped, race
from tests.support.search import SearchEnv
from tests.support.server import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

ALL_TASKS = """
import json
from clearml import Task
rows = Task.query_tasks(task_filter={"search_hidden": True}, additional_return_fields=["name", "status", "type"])
print("RESULT " + json.dumps(sorted([r["id"], r["name"], str(r["status"])] for r in rows)))
"""

CONTROLLER = """
import os

def race(url, space, study, trials, home):
    os.environ["HPO_HOME"] = home  # its own home, as on another machine: its own agents and logs
    from hpo.search import SearchOptions, run_search

    options = SearchOptions(space=space, study=study, storage=url, resume=True, trials=int(trials), local_workers=1)
    result = run_search(options)
    return {"reason": result.reason, "error": result.error, "state": str(result.summary.state)}
"""


def _study(url: str, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The stored trials (number, Optuna state, values, user attrs) and the study's user attrs."""
    storage = optuna.storages.RDBStorage(url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
        trials = [
            {"number": t.number, "state": t.state.name, "values": t.values, "attrs": dict(t.user_attrs)}
            for t in study.get_trials(deepcopy=False)
        ]
        return trials, dict(study.user_attrs)
    finally:
        storage.engine.dispose()


def _launched(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trials the budget counts: those with a task that are no duplicate."""
    return [t for t in trials if t["attrs"].get("task_id") and t["attrs"].get("state") != "duplicate"]


def _assert_budget_ran_once(search_env: SearchEnv, trials: list[dict[str, Any]], budget: int) -> None:
    """Exactly ``budget`` trials completed, each with its own task, and the server has no other trial task."""
    counted = _launched(trials)
    outcomes = [(t["number"], t["state"], t["attrs"]) for t in trials if t["state"] != "COMPLETE"]
    assert len(counted) == budget and {t["state"] for t in counted} == {"COMPLETE"}, outcomes
    ids = [t["attrs"]["task_id"] for t in counted]
    assert len(set(ids)) == budget, f"a task counts for two trials: {trials}"
    tasks = search_env.trials()
    assert sorted(t["id"] for t in tasks) == sorted(ids), f"a trial ran twice or a task was left: {tasks} {trials}"
    tags = [tag for t in tasks for tag in t["tags"] if tag.startswith("trial:")]
    assert len(set(tags)) == budget, f"two tasks for one trial number: {tags}"
    assert {t["status"] for t in tasks} == {"completed"}, tasks
    never = [t for t in trials if not t["attrs"].get("task_id")]
    assert all(t["state"] == "FAIL" for t in never), never  # asked but never launched (a kill): not counted


def _space(search_env: SearchEnv, trials: int, sleep_s: float = 0.3) -> str:
    return str(
        search_env.space(
            trials=trials,
            concurrency=2,
            parameters={
                "General/x": {"type": "float", "low": 0.0, "high": 1.0},
                "General/sleep_s": {"type": "categorical", "choices": [sleep_s]},
            },
        )
    )


def test_two_controllers_released_at_once_share_one_study_and_finish_exactly_the_budget(
    search_env: SearchEnv, postgres_url: str
) -> None:
    space = _space(search_env, trials=1)
    first = search_env.search(space, "--study", "shared", "--storage", postgres_url, "--local-workers", "1")
    assert first["state"] == "finished"
    homes = [str(search_env.root / f"machine_{i}") for i in (1, 2)]
    env = dict(search_env.env.vars)

    # Both join the study at the same instant and raise its budget to 7: 6 more trials between them.
    racers = race(CONTROLLER, postgres_url, space, "shared", "7", n=2, each=[[h] for h in homes], env=env, timeout=600)

    assert_overlapped(racers)
    assert [r.outcome["error"] for r in racers] == [None, None], racers
    trials, attrs = _study(postgres_url, "shared")
    _assert_budget_ran_once(search_env, trials, budget=7)
    owners = {t["attrs"].get("claimed_by") for t in _launched(trials) if t["number"] > 0}
    assert len(owners) == 2, f"one controller ran every new trial, so they did not share: {trials}"
    records = {k: v for k, v in attrs.items() if k.startswith("controller:")}
    assert len(records) == 3 and {r["state"] for r in records.values()} == {"stopped"}, records  # all ended
    assert attrs["state"] == "finished", attrs  # closed by the last one to end


def test_search_on_postgres_resumes_after_a_sigkill_without_rerunning(search_env: SearchEnv, postgres_url: str) -> None:
    space = _space(search_env, trials=5, sleep_s=0.7)
    with search_env.start("search", space, "--storage", postgres_url, "--local-workers", "2", "--study", "pg"):
        wait_for(
            lambda: sum(t["state"] == "COMPLETE" for t in _study(postgres_url, "pg")[0]) >= 2,
            timeout=180,
            expected=(KeyError,),  # no such study yet
            what="two completed trials",
        )
    # leaving the block SIGKILLed the controller's process group
    before, _ = _study(postgres_url, "pg")
    assert len(_launched(before)) < 5 or any(t["state"] == "RUNNING" for t in before), before

    summary = search_env.search(space, "--resume", "--study", "pg", "--storage", postgres_url, "--local-workers", "2")

    assert summary["state"] == "finished" and summary["counts"]["completed"] == 5, summary
    trials, _ = _study(postgres_url, "pg")
    _assert_budget_ran_once(search_env, trials, budget=5)
    for trial in before:
        if trial["state"] == "COMPLETE":  # completed before the kill: kept, not rerun
            [after] = [t for t in trials if t["number"] == trial["number"]]
            assert after["attrs"]["task_id"] == trial["attrs"]["task_id"] and after["values"] == trial["values"]
    status = search_env.hpo("status", "pg", "--storage", postgres_url, "--json")
    assert status.returncode == 0 and '"finished"' in status.stdout, status.stdout + status.stderr


def test_an_unreachable_storage_fails_before_any_task_is_created(search_env: SearchEnv) -> None:
    before = search_env.env.run(ALL_TASKS).result
    url = f"postgresql://hpo:topsecret@127.0.0.1:{free_port()}/studies"

    proc = search_env.hpo("search", str(search_env.space()), "--storage", url, "--local-workers", "1")

    said = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"[error] cannot open the study storage 'postgresql://hpo:***@127.0.0.1:{url.split(':')[-1]}'" in said
    assert "check that the database server runs" in said and "--storage" in said, said
    assert "topsecret" not in proc.stdout + proc.stderr
    assert search_env.env.run(ALL_TASKS).result == before  # no draft, no queued trial, no optimizer task
    assert not (search_env.root / "hpo_home" / "searches").exists()  # no local agents either


NO_DRIVER = "import sys; sys.modules['psycopg'] = sys.modules['psycopg2'] = None; from hpo.cli import main; main()"


def test_a_missing_postgres_driver_names_the_extra_before_any_task_is_created(
    search_env: SearchEnv, postgres_url: str
) -> None:
    before = search_env.env.run(ALL_TASKS).result
    space = str(search_env.space())
    proc = subprocess.run(
        [sys.executable, "-c", NO_DRIVER, "search", space, "--storage", postgres_url, "--local-workers", "1"],
        env=search_env.env.vars,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=search_env.root,
    )
    said = " ".join(proc.stderr.split())
    assert proc.returncode == 1, proc.stdout + proc.stderr
    masked = postgres_url.replace(":s3cret-pw@", ":***@")
    assert f"[error] study storage '{masked}': its driver 'psycopg' is not installed" in said, said
    assert "pip install 'clearml-hpo[postgres]'" in said and "s3cret-pw" not in said
    assert search_env.env.run(ALL_TASKS).result == before
    for command in (["status"], ["studies"]):  # every command that opens the storage says the same
        other = subprocess.run(
            [sys.executable, "-c", NO_DRIVER, *command, "--storage", postgres_url],
            env=search_env.env.vars,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert other.returncode == 1 and "clearml-hpo[postgres]" in " ".join(other.stderr.split()), other.stderr


def test_the_fixture_server_really_is_postgres(postgres_url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            version = str(conn.execute(sqlalchemy.text("SELECT version()")).scalar())
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL"), version
