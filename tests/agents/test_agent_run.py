"""A cloned template runs on the real clearml-agent: parameters in, metrics, model and log out."""

from __future__ import annotations

import pytest

from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def test_agent_runs_clone_with_overridden_parameter(agents: AgentEnv) -> None:
    agents.register_template()
    agents.start_agents("q1")
    out = agents.drive(
        """
        task = trial("clone-lr", queue="q1", lr=0.5)
        wait(task, {"completed", "failed", "stopped"})
        data = info(task)
        data["params"] = task.get_parameters()
        data["models"] = [m.name for m in task.models["output"]]
        result(data)
        """
    )
    assert out["status"] == "completed", out
    assert "SEEN lr=0.5" in out["log"]
    assert out["params"]["General/lr"] == "0.5"
    assert out["metrics"]["loss"]["train"]["last"] == 1.0
    assert out["models"] == ["trained"]
    assert out["worker"].endswith(":hpo-0")


def test_agent_failing_script_ends_failed_with_traceback(agents: AgentEnv) -> None:
    agents.register_template()
    agents.start_agents("q1")
    out = agents.drive(
        """
        task = trial("clone-fail", queue="q1", fail=1)
        wait(task, {"completed", "failed", "stopped"})
        result(info(task))
        """
    )
    assert out["status"] == "failed", out
    assert "Traceback (most recent call last)" in out["log"]
    assert "RuntimeError: boom from the template" in out["log"]
