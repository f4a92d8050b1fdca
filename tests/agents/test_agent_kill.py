"""An agent killed mid-task: the server fails the task after the task timeout, and says why."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_killed_agent_task_fails_after_timeout_with_reason(agents: AgentEnv, tmp_path: Path) -> None:
    agents.register_template()
    agents.start_agents("q1")
    pid_file = tmp_path / "trial.pid"
    started = agents.drive(
        f"""
        task = trial("orphaned", queue="q1", sleep_s=300, pid_file={str(pid_file)!r})
        wait(task, {{"in_progress"}})
        result(info(task))
        """
    )
    [agent] = agents.status_running(started["id"])
    assert agent["task_id"] == started["id"]
    os.kill(agent["pid"], signal.SIGKILL)

    out = agents.drive(
        f"""
        task = Task.get_task(task_id="{started["id"]}")
        wait(task, {{"failed", "stopped", "completed"}}, timeout=60)
        result(info(task))
        """
    )
    assert out["status"] == "failed", out
    assert agent["worker_id"] in out["reason"]
    assert "task timeout" in out["reason"]
    [after] = agents.status()
    assert not after["alive"]

    # The trial outlived its agent; `hpo agent stop` cleans it up.
    orphan = int(pid_file.read_text())
    assert _running(orphan)
    agents.hpo("agent", "stop")
    for _ in range(100):
        if not _running(orphan):
            break
        time.sleep(0.1)
    assert not _running(orphan)
