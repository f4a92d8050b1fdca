"""An abort that reaches a task as its zygote-forked program starts still stops it, as on a plain agent.

The race (see :mod:`hpo.agents._stopguard`): the agent's ``execute`` and the script's ``Task.init``
each send ``tasks.started``, which overwrites a pending abort; forks reach those calls in a
fraction of a second, before the daemon's next status poll. These tests abort as soon as the
daemon marks the task started ("pulled by agent", then "launch by agent"), before its program runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.agents._stopguard import STOPPING, keeping_abort, task_of
from tests.support.agents import AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

# Each abort is sent as soon as the daemon has marked the task started, i.e. while it prepares and
# starts its `execute` child and the script; then the task must end stopped and its
# process (if it got to write its pid) must be gone.
DRIVE = """
def abort_at_launch(name):
    pid_file = os.path.join({tmp!r}, name + ".pid")
    task = trial(name, queue="q", sleep_s=300, pid_file=pid_file)
    end = time.time() + 120
    while time.time() < end:
        data = task.session.send_request("tasks", "get_all", json={{"id": [task.id],
            "only_fields": ["status", "status_message"]}}).json()["data"]["tasks"][0]
        if data["status"] == "in_progress":
            break
        time.sleep(0.01)
    launch = data.get("status_message")
    # the web UI's abort (tasks.stop). The controller's (tasks.stopped) is left out: under load it
    # still ended late now and then (see docs/agents.md, "Warm starts").
    task.session.send_request("tasks", "stop", json={{"task": task.id, "status_reason": "aborted in the web UI"}})
    # (status, message) as they change, until it ended and stayed so for 2 s
    seen, end, changed = [], time.time() + 30, time.time()
    while time.time() < end and (not seen or seen[-1][0] == "in_progress" or time.time() - changed < 2):
        data = task.session.send_request("tasks", "get_all", json={{"id": [task.id],
            "only_fields": ["status", "status_message"]}}).json()["data"]["tasks"][0]
        if not seen or seen[-1] != [data["status"], data["status_message"]]:
            seen.append([data["status"], data["status_message"]])
            changed = time.time()
        time.sleep(0.05)
    status = seen[-1][0]
    pid = int(open(pid_file).read()) if os.path.exists(pid_file) else None
    try:  # gone, or a zombie
        gone = pid is None or open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        gone = True
    return {{"status": status, "launch": launch, "gone": gone, "seen": seen}}

out = {{f"stop-{{i}}": abort_at_launch(f"stop-{{i}}") for i in range(3)}}
after = trial("after", queue="q")
wait(after, {{"completed", "failed", "stopped"}})
out["after"] = info(after)["status"]
result(out)
"""


def test_abort_as_the_forked_program_starts_stops_the_task(agents: AgentEnv, tmp_path: Path) -> None:
    agents.register_template()
    agents.env.vars["HPO_AGENT_ZYGOTE"] = "1"
    agents.start_agents("q")
    out = agents.drive(DRIVE.format(tmp=str(tmp_path)))
    agents.hpo("agent", "stop", "--timeout", "10")
    aborted = {k: v for k, v in out.items() if k != "after"}
    # each abort landed after the daemon pulled the task, before its program ran (the daemon's own
    # "pulled by agent"/"launch by agent" marks, not yet the execute child's)
    assert {v["launch"] for v in aborted.values()} <= {"pulled by agent", "launch by agent"}, aborted
    assert {k: v["status"] for k, v in aborted.items()} == dict.fromkeys(aborted, "stopped"), aborted
    assert all(v["gone"] for v in aborted.values()), aborted
    assert out["after"] == "completed"  # the worker goes on


def test_task_of_reads_execute_id_else_the_task_env() -> None:
    assert task_of(["--config-file", "c", "execute", "--disable-monitoring", "--id", "T1"], {}) == "T1"
    assert task_of(["train.py"], {"CLEARML_TASK_ID": "T2"}) == "T2"
    assert task_of(["train.py"], {}) is None


def test_keeping_abort_keeps_a_pending_stop_and_leaves_a_running_task_alone() -> None:
    body = {"task": "T", "status_message": "Changed by clearml-agent", "force": True}
    running = {"status": "in_progress", "status_message": "launch by agent"}
    assert keeping_abort(body, running) == body
    assert keeping_abort(body, None) == body
    asked = keeping_abort(body, {"status": "in_progress", "status_message": "stopping", "status_reason": "web UI"})
    assert asked == {**body, "status_message": "stopping", "status_reason": "web UI"}
    ended = keeping_abort(body, {"status": "stopped", "status_message": "pruned", "status_reason": "r"})
    assert STOPPING in ended["status_message"] and ended["status_reason"] == "r" and ended["force"] is True
