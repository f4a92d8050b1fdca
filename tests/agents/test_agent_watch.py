"""A local agent that dies during a search is reported (terminal, ``hpo status``) and started again."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil
import pytest

from hpo.agents import AgentWatch, LocalAgent, read_state, stop, watch_notes
from tests.support.agents import AgentEnv
from tests.support.search import SearchEnv
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_one(search_env: SearchEnv, study: str, home: Path, workers: int) -> LocalAgent:
    """SIGKILL one of the search's agents once trials run (its agents registered, the watch on)."""
    wait_for(lambda: search_env.study_so_far(study), timeout=180, what=f"the first trial of {study}")
    assert len(read_state(home)) == workers and all(_alive(a.pid) for a in read_state(home))
    victim = read_state(home)[0]
    os.kill(victim.pid, signal.SIGKILL)  # as the OOM killer would: no chance to unregister
    return victim


def _restarted(home: Path, victim: LocalAgent) -> LocalAgent | None:
    return next((a for a in read_state(home) if a.worker_id == victim.worker_id and a.restarts == 1), None)


def test_search_restarts_and_reports_a_killed_local_agent(search_env: SearchEnv) -> None:
    space = search_env.slow_space("watched", trials=8, sleep_s=1.5)
    with search_env.start("search", str(space), "--local-workers", "2", "--study", "watched") as controller:
        home = search_env.root / "hpo_home" / "searches" / "watched"
        victim = _kill_one(search_env, "watched", home, workers=2)
        wait_for(lambda: _restarted(home, victim) is not None, timeout=60, what=f"{victim.worker_id} restarted")
        again = _restarted(home, victim)
        assert again is not None
        assert again.pid != victim.pid and _alive(again.pid)

        status = search_env.hpo("status", "watched")
        said = " ".join(status.stdout.split())
        assert f"local agent {victim.worker_id} died and was restarted 1x (pid {again.pid} now)" in said, said

        agent_rows = json.loads(search_env.hpo("agent", "status", "--json").stdout)
        row = next(r for r in agent_rows if r["worker_id"] == victim.worker_id)
        assert row["restarts"] == 1 and row["alive"] and row["study"] == "watched", row

        assert controller.wait(timeout=400) == 0
    terminal = " ".join(controller.output.split())
    assert f"local agent {victim.worker_id} died (pid {victim.pid}); restarted it (pid {again.pid}" in terminal
    trials = search_env.study("watched")
    assert len(trials) >= 8 and sum(t["state"] == "COMPLETE" for t in trials) >= 6, trials


def test_watch_gives_up_after_max_restarts_and_says_so(agents: AgentEnv, caplog: pytest.LogCaptureFixture) -> None:
    agents.start_agents("q1")
    home = agents.env.root / "hpo_home"
    [first] = read_state(home)
    watch = AgentWatch(home, env=agents.env.vars, max_restarts=1)
    try:
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: not _alive(first.pid), what="the agent gone")
        [again] = watch.check()
        assert again.worker_id == first.worker_id and again.restarts == 1 and _alive(again.pid)
        assert watch_notes(home) == [
            f"local agent {first.worker_id} died and was restarted 1x (pid {again.pid} now); its log: {first.log_path}"
        ]
        os.kill(again.pid, signal.SIGKILL)
        wait_for(lambda: not _alive(again.pid), what="the restarted agent gone")
        caplog.clear()
        with caplog.at_level("WARNING", logger="hpo.agents"):
            assert watch.check() == [] and watch.check() == []
        [gave_up] = [r.getMessage() for r in caplog.records]  # said once, not at every check
        assert f"local agent {first.worker_id} died (pid {again.pid}) after 1 restarts; not restarting it" in gave_up
        assert watch_notes(home) == [
            f"local agent {first.worker_id} is down (pid {again.pid} died after 1 restarts); its log: {first.log_path}"
        ]
    finally:
        stop(home, timeout=5)  # in this process, which started the restarted daemon: reaps it
