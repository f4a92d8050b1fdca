"""A trial run by the real clearml-agent through the worker's zygote ends as on a plain agent.

Same template and clones on agents with the zygote (the default on Linux) and without it (``HPO_AGENT_ZYGOTE=0``):
the same parameters reach the script, the same console lines and traceback reach the task's
log, and the same statuses end the tasks.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

# The tests' DRIVER clones the task named agents/train; this one says whether it ran in a fork.
TEMPLATE = """
import os, sys
import psutil
from clearml import Task

task = Task.init(project_name="agents", task_name="train")
params = task.connect({"lr": 0.1, "fail": 0})
parent = " ".join(psutil.Process(os.getppid()).cmdline())
print(f"FORKED {'hpo.agents._zygote' in parent}")
print(f"SEEN lr={params['lr']} argv={sys.argv[1:]} main={__name__}")
print("STDERR line", file=sys.stderr)
if int(params["fail"]):
    raise RuntimeError("boom from the template")
"""

DRIVE = """
ok = trial("ok", queue={queue!r}, lr=0.25)
bad = trial("bad", queue={queue!r}, fail=1)
for task in (ok, bad):
    wait(task, {{"completed", "failed", "stopped"}})
result({{"ok": info(ok), "bad": info(bad), "params": ok.get_parameters()}})
"""

MARKS = ("FORKED", "SEEN", "STDERR", "Traceback", "  File", "    raise", "RuntimeError")


def _script_lines(log: str) -> list[str]:
    """The script's own console lines (the agent's own lines differ run to run: times, ids)."""
    return [line for line in log.splitlines() if line.startswith(MARKS)]


def _run_on(agents: AgentEnv, queue: str) -> dict[str, Any]:
    agents.start_agents(queue)
    out: dict[str, Any] = agents.drive(DRIVE.format(queue=queue))
    agents.hpo("agent", "stop", "--timeout", "10")
    return out


def test_zygote_trial_same_parameters_console_and_status_as_plain_agent(agents: AgentEnv) -> None:
    agents.env.run(TEMPLATE)
    agents.env.vars["HPO_AGENT_ZYGOTE"] = "1"
    warm = _run_on(agents, "q-warm")
    agents.env.vars["HPO_AGENT_ZYGOTE"] = "0"
    plain = _run_on(agents, "q-plain")

    assert [warm["ok"]["status"], warm["bad"]["status"]] == ["completed", "failed"], warm
    assert [plain["ok"]["status"], plain["bad"]["status"]] == ["completed", "failed"], plain
    assert warm["params"]["General/lr"] == plain["params"]["General/lr"] == "0.25"
    for name in ("ok", "bad"):
        warm_lines, plain_lines = _script_lines(warm[name]["log"]), _script_lines(plain[name]["log"])
        assert "FORKED True" in warm_lines and "FORKED False" in plain_lines
        strip = {"FORKED True", "FORKED False"}
        assert [x for x in warm_lines if x not in strip] == [x for x in plain_lines if x not in strip]
    assert "SEEN lr=0.25 argv=[] main=__main__" in _script_lines(warm["ok"]["log"])
    assert "RuntimeError: boom from the template" in _script_lines(warm["bad"]["log"])
