"""The study storage: opened by several processes at once (a search, ``hpo status``, a dashboard),
and shared by controllers that claim the budget and pick study names at the same instant."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from tests.support.racing import assert_overlapped, race
from tests.support.search import SearchEnv

OPEN = """
from hpo import study as _study

def race(url):
    _study.open_storage(url)
    return "opened"
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty study storage: an SQLite file, or a database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studies.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_fresh_storage_opened_by_many_processes_at_once(storage_url: str) -> None:
    racers = race(OPEN, storage_url, n=6)
    assert_overlapped(racers)
    assert [r.outcome for r in racers] == ["opened"] * 6


CLAIM = """
from hpo import study

def race(url, name, budget):
    storage = study.open_storage(url)
    shared = study.load(name, storage)
    owner = study.new_owner()
    study.write_controller_record(shared, owner, started=0.0)  # alive: its claims count
    claimed = []
    while True:
        trial, _ = study.claim_trial(shared, storage, owner, int(budget))
        if trial is None:
            return {"owner": owner, "claimed": claimed}
        claimed.append(trial.number)
"""


def test_controllers_claiming_at_once_never_exceed_the_budget(storage_url: str) -> None:
    from hpo import study

    storage = study.open_storage(storage_url)
    try:
        optuna.create_study(storage=storage, study_name="shared")
        racers = race(CLAIM, storage_url, "shared", "40", n=6)
        trials = optuna.load_study(study_name="shared", storage=storage).get_trials(deepcopy=False)
    finally:
        storage.engine.dispose()  # type: ignore[attr-defined]  # an RDBStorage; no connection left to the GC
    assert_overlapped(racers)
    claimed = {number: r.outcome["owner"] for r in racers for number in r.outcome["claimed"]}
    assert sorted(claimed) == list(range(40)), claimed
    assert sum(1 for r in racers if r.outcome["claimed"]) > 1, "one racer took every claim: they did not interleave"
    assert {t.number: t.user_attrs["claimed_by"] for t in trials} == claimed


def test_a_claim_lapses_when_its_controller_dies_before_launching(tmp_path: Path) -> None:
    from hpo import study

    storage = study.open_storage(f"sqlite:///{tmp_path / 'studies.db'}")
    shared = optuna.create_study(storage=storage, study_name="shared")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    study.write_controller_record(shared, "gone", started=0.0)
    record = shared.user_attrs["controller:gone"]
    record["controller"]["pid"] = int(dead.stdout)  # as a controller killed right after its claim
    shared.set_user_attr("controller:gone", record)
    study.write_controller_record(shared, "alive", started=0.0)
    try:
        lapsed, _ = study.claim_trial(shared, storage, "gone", budget=1)
        mine, _ = study.claim_trial(shared, storage, "alive", budget=1)
        over, _ = study.claim_trial(shared, storage, "alive", budget=1)
    finally:
        storage.engine.dispose()  # type: ignore[attr-defined]
    assert lapsed is not None and mine is not None, "a dead controller's unlaunched claim still counted"
    assert over is None, "a live controller's unlaunched claim did not count"


NAME = """
from hpo import study
from hpo.errors import ConfigError

def race(url, name, exact):
    storage = study.open_storage(url)
    try:
        return study.create_named_study(storage, name, exact=exact == "exact", directions=["maximize"]).study_name
    except ConfigError as err:
        return f"error: {err}"
"""


def test_searches_started_at_once_get_distinct_names(storage_url: str) -> None:
    racers = race(NAME, storage_url, "tfidf", "next-free", n=6)
    assert_overlapped(racers)
    assert sorted(r.outcome for r in racers) == sorted(["tfidf", *(f"tfidf-{i}" for i in range(2, 7))])


def test_a_name_chosen_twice_at_once_goes_to_one_and_the_other_gets_an_error(storage_url: str) -> None:
    racers = race(NAME, storage_url, "mine", "exact", n=4)
    assert_overlapped(racers)
    outcomes = sorted(r.outcome for r in racers)
    assert outcomes[-1] == "mine", outcomes
    assert outcomes[:-1] == ["error: study 'mine' exists; pass --resume to continue it, or another --study name"] * 3


SEARCH = """
import json, subprocess, sys

def race(space):
    proc = subprocess.run(
        [sys.executable, "-c", "from hpo.cli import main; main()", "search", space, "--json", "--local-workers", "1"],
        capture_output=True, text=True, timeout=600,
    )
    return {"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr[-3000:]}
"""


def test_two_searches_started_at_the_same_instant_both_run_under_distinct_names(search_env: SearchEnv) -> None:
    space = search_env.space(trials=1, concurrency=1)
    racers = race(SEARCH, str(space), n=2, env=search_env.env.vars, timeout=900)
    assert_overlapped(racers)
    assert [r.outcome["rc"] for r in racers] == [0, 0], [r.outcome["err"] for r in racers]
    summaries = [json.loads(r.outcome["out"]) for r in racers]
    assert sorted(s["study"] for s in summaries) == ["curve", "curve-2"], summaries
    assert [s["state"] for s in summaries] == ["finished", "finished"], summaries


def test_controller_gone_by_pid_on_this_host_and_by_heartbeat_elsewhere() -> None:
    import os
    import socket

    from hpo.study import HEARTBEAT_STALE_S, controller_gone

    here, now = socket.gethostname(), time.time()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    fresh, stale = now - 1, now - HEARTBEAT_STALE_S - 1

    def attrs(host: str, pid: int, heartbeat: float, state: str = "running") -> dict[str, object]:
        return {"state": state, "controller": {"host": host, "pid": pid}, "heartbeat": heartbeat}

    assert not controller_gone(attrs(here, os.getpid(), stale), now)  # alive here, however old its heartbeat
    assert controller_gone(attrs(here, dead_pid, fresh), now)
    assert not controller_gone(attrs("elsewhere", dead_pid, fresh), now)
    assert controller_gone(attrs("elsewhere", dead_pid, stale), now)
    assert not controller_gone(attrs(here, dead_pid, stale, state="finished"), now)
    # Two controllers share the study: it is gone only when every one is.
    shared = {**attrs(here, dead_pid, fresh), "controller:other": attrs(here, os.getpid(), stale)}
    assert not controller_gone(shared, now)
    shared["controller:other"] = attrs(here, os.getpid(), stale, state="stopped")  # it ended
    assert controller_gone(shared, now)
    shared["controller:other"] = attrs("elsewhere", dead_pid, stale)
    assert controller_gone(shared, now)
