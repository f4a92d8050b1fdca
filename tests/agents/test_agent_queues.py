"""Two queues, two agents: each agent runs only its own queue's tasks; status shows who runs what."""

from __future__ import annotations

import pytest

from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def test_two_queues_two_agents_each_runs_its_own(agents: AgentEnv) -> None:
    agents.register_template()
    agents.start_agents("qa")
    agents.start_agents("qb")
    status = {a["worker_id"]: a for a in agents.status()}
    assert sorted(tuple(a["queues"]) for a in status.values()) == [("qa",), ("qb",)]

    out = agents.drive(
        """
        tasks = {name: trial(name, queue=name[:2]) for name in ("qa-1", "qb-1", "qa-2", "qb-2")}
        for task in tasks.values():
            wait(task, {"completed", "failed", "stopped"})
        result({name: info(task) for name, task in tasks.items()})
        """
    )
    for name, task in out.items():
        assert task["status"] == "completed", task
        assert status[task["worker"]]["queues"] == [name[:2]], (name, task["worker"])


def test_agent_status_shows_the_running_task(agents: AgentEnv) -> None:
    agents.register_template()
    agents.start_agents("q1")
    out = agents.drive(
        """
        task = trial("long", queue="q1", sleep_s=300)
        wait(task, {"in_progress"})
        result(info(task))
        """
    )
    [agent] = agents.status_running(out["id"])
    assert agent["alive"] and agent["registered"]
    assert (agent["task_id"], agent["task_name"]) == (out["id"], "long")
    text = agents.hpo("agent", "status").stdout
    assert agent["worker_id"] in text and "long" in text
    assert "stopped 1 agent" in agents.hpo("agent", "stop").stdout
    assert agents.status() == []
    after = agents.drive(f"result(info(Task.get_task(task_id={out['id']!r})))")
    assert after["status"] == "stopped", after
