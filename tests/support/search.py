"""Search test helpers: a real server, a fast trivial template, real agents and the real CLI.

The ``curve`` template reports ``validation/score`` over a few iterations, a known function of
its connected ``x`` (best at x = 0.3), its standard error ``validation/score_se`` when ``se`` is
set, and fails on request: enough to exercise every path of a search in seconds instead of
training a model.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hpo import local_server
from tests.support.server import Env, free_port, sdk_env

TASK_TIMEOUT_S = 5.0  # a trial whose agent died is failed by the server within seconds

CURVE = """
import time
from clearml import Task

task = Task.init(project_name="search tests", task_name="curve")
args = task.connect({"x": 0.5, "y": 0, "iterations": 3, "sleep_s": 0.0, "fail": 0, "fail_above": 2.0, "se": 0.0})
logger = task.get_logger()
n = int(args["iterations"])
for i in range(n):
    value = (1.0 - (float(args["x"]) - 0.3) ** 2) * (i + 1) / n
    logger.report_scalar("validation", "score", value=value, iteration=i)
    logger.report_scalar("validation", "cost", value=float(args["x"]), iteration=i)  # a second objective
    logger.flush()
    time.sleep(float(args["sleep_s"]))
if float(args["se"]) > 0:  # the objective's noise, as a CV template reports it (--stop-when converged)
    logger.report_scalar("validation", "score_se", value=float(args["se"]), iteration=n - 1)
    logger.flush()
if int(args["fail"]) or float(args["x"]) > float(args["fail_above"]):
    raise RuntimeError("failing on purpose")
print("curve done")
"""

REGISTER = """
import json, sys
from clearml import Task
task = Task.create(project_name="search tests", task_name="curve", script=sys.argv[1], add_task_init_call=False,
                   force_single_script_file=True, binary="python3", packages=["clearml"])
task.set_parameters({"General/x": 0.5, "General/y": 0, "General/iterations": 3, "General/sleep_s": 0.0,
                     "General/fail": 0, "General/fail_above": 2.0, "General/se": 0.0})
task.add_tags(["hpo-template", "template:curve"])
print("RESULT " + json.dumps(task.id))
"""

TASKS = """
import json, sys
from clearml import Task
rows = Task.query_tasks(project_name="search tests", additional_return_fields=["name", "status", "parent", "tags",
                        "last_iteration", "hyperparams", "execution.queue"])
out = []
for r in rows:
    if not any(t.startswith("trial:") for t in r.get("tags") or []):
        continue  # the template, the optimizer task
    params = {k: v.value for k, v in ((r.get("hyperparams") or {}).get("General") or {}).items()}
    out.append({"id": r["id"], "name": r["name"], "status": str(r["status"]), "tags": r.get("tags") or [],
                "last_iteration": r.get("last_iteration"), "params": params, "queue": r.get("execution.queue")})
print("RESULT " + json.dumps(out, default=str))
"""

QUEUES = """
import json
from clearml.backend_api.session.client import APIClient
client = APIClient()
print("RESULT " + json.dumps({q.name: len(q.entries or []) for q in client.queues.get_all()}))
"""


@dataclass
class SearchEnv:
    """A server, the SDK environment, the curve template and the ``hpo`` command line."""

    env: Env

    @property
    def root(self) -> Path:
        return self.env.root

    def hpo_args(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from hpo.cli import main; main()", *args]

    def hpo(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.hpo_args(*args), env=self.env.vars, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        with open(self.root / f"controller-{time.monotonic_ns()}.log", "w") as log:
            return subprocess.Popen(
                self.hpo_args(*args), env=self.env.vars, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=self.root
            )

    def search(self, space: Path, *args: str, timeout: float = 240) -> dict[str, Any]:
        proc = self.hpo("search", str(space), "--json", *args, timeout=timeout)
        assert proc.returncode == 0, f"hpo search failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-6000:]}"
        return dict(json.loads(proc.stdout))

    def register_curve(self) -> str:
        script = self.root / "curve.py"
        script.write_text(textwrap.dedent(CURVE))
        return str(self.env.run(REGISTER, str(script)).result)

    def space(self, name: str = "curve", **fields: Any) -> Path:
        doc: dict[str, Any] = {
            "template": "curve",
            "objective": {"title": "validation", "series": "score", "direction": "max"},
            "trials": 4,
            "concurrency": 2,
            "sampler": {"name": "random", "seed": 1},
            "parameters": {"General/x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
        doc.update(fields)
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return path

    @property
    def storage_url(self) -> str:
        """The study storage of searches run by :meth:`hpo` (``$HPO_HOME/studies.db``)."""
        return f"sqlite:///{self.root / 'hpo_home' / 'studies.db'}"

    def trials(self) -> list[dict[str, Any]]:
        """Every clone of the curve template on the server."""
        return list(self.env.run(TASKS).result)

    def queue_entries(self) -> dict[str, int]:
        return dict(self.env.run(QUEUES).result)

    def study(self, name: str) -> list[dict[str, Any]]:
        """The study's trials as stored: number, Optuna state, values, user attrs, intermediate values."""
        import optuna

        study = optuna.load_study(study_name=name, storage=self.open_storage())
        return [
            {
                "number": t.number,
                "state": t.state.name,
                "values": t.values,
                "attrs": dict(t.user_attrs),
                "intermediate": dict(t.intermediate_values),
                "params": dict(t.params),
            }
            for t in study.get_trials(deepcopy=False)
        ]

    def study_so_far(self, name: str) -> list[dict[str, Any]]:
        """:meth:`study`, or no trials while the search has not created its storage or study yet."""
        if not (self.root / "hpo_home" / "studies.db").exists():
            return []
        try:
            return self.study(name)
        except KeyError:  # Optuna: no study of that name yet
            return []

    def study_attrs(self, name: str) -> dict[str, Any]:
        import optuna

        return dict(optuna.load_study(study_name=name, storage=self.open_storage()).user_attrs)

    def open_storage(self) -> Any:
        """The storage as the suite opens it: a busy timeout, and retries while a search creates its schema."""
        from hpo.study import open_storage

        return open_storage(self.storage_url)


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@contextlib.contextmanager
def start_search_env(tmp_path: Path, data_dir: Path | None = None) -> Iterator[SearchEnv]:
    """A fresh server (short task timeout) over ``data_dir`` (default ``tmp_path/server``) with the curve
    template; search agents stopped at the end."""
    data_dir = data_dir or tmp_path / "server"
    server, _ = local_server.start(data_dir, port=free_port(), task_timeout_s=TASK_TIMEOUT_S)
    ctx = SearchEnv(Env(server, tmp_path, sdk_env(server, tmp_path)))
    try:
        ctx.register_curve()
        yield ctx
    finally:
        from hpo.agents import stop as stop_agents

        for home in (tmp_path / "hpo_home" / "searches").glob("*"):
            stop_agents(home=home, timeout=5)
        subprocess.run(ctx.hpo_args("agent", "stop", "--timeout", "5"), env=ctx.env.vars, capture_output=True)
        local_server.stop(data_dir)
