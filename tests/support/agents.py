"""Helpers for tests with the real ``clearml-agent``: a server with a short task timeout, and agents.

Agents are started and stopped through the real ``hpo agent`` command line, in their own
``$HPO_HOME`` under the test's tmp dir, with a fast poll so that tests stay short.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo import local_server
from tests.support.server import Env, free_port, sdk_env

# Short, so that a killed agent's task is failed quickly (local agents report every 2 s).
TASK_TIMEOUT_S = 5.0

# A template registered with Task.init; every behaviour of a trial is a connected parameter.
TEMPLATE = """
import os, time
from pathlib import Path
from clearml import Logger, OutputModel, Task

task = Task.init(project_name="agents", task_name="train")
params = task.connect({"lr": 0.1, "sleep_s": 0.0, "fail": 0, "pid_file": ""})
if params["pid_file"]:
    Path(params["pid_file"]).write_text(str(os.getpid()))
Logger.current_logger().report_scalar("loss", "train", value=float(params["lr"]) * 2, iteration=0)
print(f"SEEN lr={params['lr']}")
weights = Path("weights.bin")
weights.write_bytes(b"w" * 64)
OutputModel(task=task, name="trained").update_weights(weights_filename=str(weights))
end = time.time() + float(params["sleep_s"])
while time.time() < end:
    time.sleep(0.1)
if int(params["fail"]):
    raise RuntimeError("boom from the template")
"""

# Prepended to driver scripts: helpers that clone the template and wait for statuses.
DRIVER = """
import json, os, time
from clearml import Task

def template():
    return Task.get_task(project_name="agents", task_name="train")

def trial(name, queue=None, **params):
    task = Task.clone(source_task=template(), name=name)
    task.set_parameters({f"General/{k}": v for k, v in params.items()})
    if queue:
        Task.enqueue(task, queue_name=queue)
    return task

def wait(task, statuses, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        task.reload()
        if task.get_status() in statuses:
            return task.get_status()
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {statuses}: task {task.id} is {task.get_status()}")

def info(task):
    task.reload()
    return {"id": task.id, "status": task.get_status(), "reason": task.data.status_reason,
            "message": task.data.status_message, "worker": task.data.last_worker,
            "metrics": task.get_last_scalar_metrics(),
            "log": "\\n".join(task.get_reported_console_output(number_of_reports=200))}

def result(value):
    print("RESULT " + json.dumps(value))
"""

POLL_S = 0.3


@dataclass
class AgentEnv:
    """A server, an SDK environment and the ``hpo agent`` command line against that server."""

    env: Env

    def hpo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-c", "from hpo.cli import main; main()", *args],
            env=self.env.vars,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert proc.returncode == 0, f"hpo {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        return proc

    def start_agents(self, *queues: str, workers: int = 1) -> None:
        args = [arg for q in queues for arg in ("--queue", q)]
        self.hpo("agent", "start", *args, "--workers", str(workers), "--poll-interval", str(POLL_S))

    def status(self) -> list[dict[str, Any]]:
        return list(json.loads(self.hpo("agent", "status", "--json").stdout))

    def status_running(self, task_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """``hpo agent status`` once an agent reports that it runs ``task_id`` (reports are periodic)."""
        deadline = time.monotonic() + timeout
        while True:
            agents = self.status()
            if any(agent["task_id"] == task_id for agent in agents) or time.monotonic() > deadline:
                return agents
            time.sleep(0.5)

    def register_template(self) -> None:
        self.env.run(TEMPLATE)

    def drive(self, script: str) -> Any:
        """Run a driver script (DRIVER's helpers are in scope) and return its RESULT."""
        return self.env.run(DRIVER + textwrap.dedent(script)).result


@contextlib.contextmanager
def start_agents_env(tmp_path: Path) -> Iterator[AgentEnv]:
    """A fresh server with a short task timeout; agents started meanwhile are stopped at the end."""
    data_dir = tmp_path / "server"
    server, _ = local_server.start(data_dir, port=free_port(), task_timeout_s=TASK_TIMEOUT_S)
    ctx = AgentEnv(Env(server, tmp_path, sdk_env(server, tmp_path)))
    try:
        yield ctx
    finally:
        ctx.hpo("agent", "stop", "--timeout", "5", check=False)
        local_server.stop(data_dir)
