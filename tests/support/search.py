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
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hpo import local_server
from tests.support.server import Env, free_port, sdk_env
from tests.support.waiting import wait_for

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

    def start(self, *args: str, env: Mapping[str, str] | None = None, split_stderr: bool = False) -> Running:
        """``hpo *args`` in the background, in a process group of its own, its output in files.

        Args:
            args: The command line after ``hpo``.
            env: Variables added to the SDK environment (``COLUMNS``, say).
            split_stderr: Keep stderr apart (:attr:`Running.stderr`); by default it goes with stdout.
        """
        out = self.root / f"controller-{time.monotonic_ns()}.log"
        err = out.with_suffix(".err") if split_stderr else None
        with open(out, "w") as out_file, open(err or os.devnull, "w") as err_file:
            proc = subprocess.Popen(
                self.hpo_args(*args),
                env={**self.env.vars, **(env or {})},
                stdout=out_file,
                stderr=err_file if err else subprocess.STDOUT,
                text=True,
                cwd=self.root,
                start_new_session=True,  # a group of its own: kill() reaches what it started and did not detach
            )
        return Running(proc, out, err)

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

    def slow_space(self, name: str = "curve", *, sleep_s: float, iterations: int | None = None, **fields: Any) -> Path:
        """:meth:`space` whose trials sleep ``sleep_s`` a step (``iterations`` steps, else the template's 3):
        ``x`` searched, the others one-choice categoricals, so that a test can act while trials run."""
        parameters: dict[str, Any] = {
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/sleep_s": {"type": "categorical", "choices": [sleep_s]},
        }
        if iterations is not None:
            parameters["General/iterations"] = {"type": "categorical", "choices": [iterations]}
        return self.space(name, parameters=parameters, **fields)

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


@dataclass
class Running:
    """An ``hpo`` command started by :meth:`SearchEnv.start`; use it as a context manager, which kills
    its process group at the end whatever happened (SIGKILL: what is left was not meant to outlive it)."""

    proc: subprocess.Popen[str]
    out_path: Path
    err_path: Path | None = None

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    @property
    def output(self) -> str:
        """What it wrote to stdout (and stderr, unless started with ``split_stderr``) so far."""
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        assert self.err_path is not None, "started without split_stderr: stderr is in output"
        return self.err_path.read_text()

    def poll(self) -> int | None:
        return self.proc.poll()

    def until(self, condition: Callable[[], object], what: str, timeout: float = 120.0, ended_ok: bool = False) -> None:
        """Wait until ``condition()`` holds while the command runs.

        Raises:
            AssertionError: It ended first (unless ``ended_ok``: then this returns), with its output's
                tail; or ``timeout`` passed.
        """
        wait_for(lambda: self.proc.poll() is not None or condition(), timeout=timeout, what=what)
        code = self.proc.poll()
        assert code is None or ended_ok, f"the command ended ({code}) before {what}:\n{self.tail()}"

    def until_line(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """Wait for a line of its output (stdout) that matches the regular expression ``pattern``;
        it may have ended since, but not without printing it."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found.extend(m for m in [re.search(pattern, self.output, re.M)] if m)
            return bool(found) or self.proc.poll() is not None

        wait_for(seen, timeout=timeout, what=f"a line matching {pattern!r}")
        if not found:  # ended: read once more, the line may have come with its last words
            found.extend(m for m in [re.search(pattern, self.output, re.M)] if m)
        assert found, f"the command ended ({self.proc.poll()}) without a line matching {pattern!r}:\n{self.tail()}"
        return found[0]

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the command itself (as ``kill -SIG pid`` would), which must still run."""
        assert self.proc.poll() is None, f"the command ended ({self.proc.poll()}) before the signal:\n{self.tail()}"
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Its exit code, once it has ended (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        return self.proc.wait(timeout=timeout)

    def stop(self, sig: signal.Signals, timeout: float) -> int:
        """:meth:`send` then :meth:`wait`: the exit code the signal ended it with."""
        self.send(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        kill_group(self.proc)

    def tail(self, chars: int = 4000) -> str:
        """The end of its output (and of its stderr when kept apart), for a failure message."""
        err = self.stderr[-chars:] if self.err_path is not None else ""
        return self.output[-chars:] + (f"\n--- stderr ---\n{err}" if err else "")


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc``'s process group (its own, from :meth:`SearchEnv.start`) and reap ``proc``."""
    with contextlib.suppress(ProcessLookupError):  # the group is empty: it ended, and all it started
        os.killpg(proc.pid, signal.SIGKILL)
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
