"""Aborting a task an agent runs kills its process; the task ends stopped; the agent goes on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

ALIVE = """
def alive(pid_file, timeout=60):
    # wait for the script to write its pid, then for it to die (a zombie counts as dead)
    end = time.time() + timeout
    while not os.path.exists(pid_file) and time.time() < end:
        time.sleep(0.1)
    pid = int(open(pid_file).read())
    while time.time() < end:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True
"""


def test_agent_abort_kills_trial_and_takes_next_task(agents: AgentEnv, tmp_path: Path) -> None:
    agents.register_template()
    agents.start_agents("q1")
    pid_a, pid_b = str(tmp_path / "a.pid"), str(tmp_path / "b.pid")
    out = agents.drive(
        ALIVE
        + f"""
a = trial("abort-by-stopped", queue="q1", sleep_s=300, pid_file={pid_a!r})
b = trial("abort-by-stop-request", queue="q1", sleep_s=300, pid_file={pid_b!r})
c = trial("after-aborts", queue="q1")
wait(a, {{"in_progress"}})
while not os.path.exists({pid_a!r}):
    time.sleep(0.1)
t0 = time.time()
Task.get_task(task_id=a.id).mark_stopped()            # tasks.stopped: the status changes at once
a_alive = alive({pid_a!r})
a_seconds = time.time() - t0
wait(b, {{"in_progress"}})
while not os.path.exists({pid_b!r}):
    time.sleep(0.1)
Task.get_task(task_id=b.id).mark_stop_request()       # tasks.stop: "stopping" until the agent acts
b_alive = alive({pid_b!r})
wait(b, {{"stopped", "failed", "completed"}})
wait(c, {{"completed", "failed", "stopped"}})
result({{"a": info(a), "b": info(b), "c": info(c), "a_alive": a_alive, "b_alive": b_alive,
        "a_seconds": a_seconds}})
"""
    )
    print(f"abort -> process gone: {out['a_seconds']:.1f} s")
    assert out["a"]["status"] == "stopped", out["a"]
    assert out["b"]["status"] == "stopped", out["b"]
    assert not out["a_alive"] and not out["b_alive"]
    assert out["c"]["status"] == "completed", out["c"]
    assert out["c"]["worker"] == out["a"]["worker"]
