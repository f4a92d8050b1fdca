"""The round trips of a trial's ``Task.init`` + ``task.connect`` + report + exit against the embedded server.

Run by hand (not a test)::

    python bench/init_trips.py [--repeats 3]

A throwaway embedded server, a template task, and per repeat: a clone dequeued and started as an
agent does it (``tasks.enqueue``, ``queues.get_next_task``, ``tasks.started``), then the trial script
run as the agent's child runs it (``CLEARML_TASK_ID`` set) in a fresh interpreter that times every
HTTP request the SDK sends (``requests.Session.request``). Printed per phase (``Task.init``,
``task.connect``, report, the SDK's exit): the wall time, the number of requests and the time spent
in them, then every request of the last repeat with its duration, median over repeats. A phase's
wall time minus its request time is the SDK's own work (no server can make that faster).
``--warm`` preloads as the agents' zygote does first (``hpo.agents._warm``); ``--profile P`` writes a
cProfile of each ``Task.init`` to ``P.<repeat>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from hpo import local_server
from hpo.agents._api import Client

TRACED = """
import atexit, json, os, sys, time
import requests
calls = []
phase = ["import"]
_orig = requests.Session.request
def _timed(self, method, url, *args, **kwargs):
    t0 = time.perf_counter()
    try:
        return _orig(self, method, url, *args, **kwargs)
    finally:
        calls.append((phase[0], url.rsplit("/", 1)[-1], time.perf_counter() - t0))
requests.Session.request = _timed
marks = {"t0": time.perf_counter()}
def _dump():
    marks["exit"] = time.perf_counter()
    with open(sys.argv[1], "w") as f:
        json.dump({"marks": marks, "calls": calls}, f)
atexit.register(_dump)  # before Task.init: it runs after the SDK's exit handlers
if os.environ.get("_TRIPS_WARM"):  # what the agents' zygote does before it forks a program
    import gc
    from hpo.agents import _warm
    fork = os.environ.get("_TRIPS_FORK")
    if fork == "freeze":
        gc.disable()
    _warm.preload()
    if fork:  # the program runs in a fork of this warm interpreter, as the zygote runs it
        if fork == "freeze":
            gc.freeze()
        pid = os.fork()
        if pid:
            os._exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        if fork == "freeze":
            gc.enable()
    _warm.refresh()
    marks["t0"] = time.perf_counter()
from clearml import Task
marks["imported"] = time.perf_counter(); phase[0] = "Task.init"
if os.environ.get("_TRIPS_PROFILE"):
    import cProfile
    _prof = cProfile.Profile()
    _prof.enable()
task = Task.init(project_name="bench trips", task_name="sleeper")
if os.environ.get("_TRIPS_PROFILE"):
    _prof.disable()
    _prof.dump_stats(os.environ["_TRIPS_PROFILE"])
marks["init"] = time.perf_counter(); phase[0] = "task.connect"
args = task.connect({"x": 0.5, "sleep_s": 0.0})
marks["connected"] = time.perf_counter(); phase[0] = "report"
task.get_logger().report_scalar("validation", "score", value=float(args["x"]), iteration=0)
marks["end"] = time.perf_counter(); phase[0] = "exit"
"""

REGISTER = """
import json, sys
from clearml import Task
task = Task.create(project_name="bench trips", task_name="sleeper", script=sys.argv[1],
                   add_task_init_call=False, force_single_script_file=True, binary="python3", packages=["clearml"])
task.set_parameters({"General/x": 0.5, "General/sleep_s": 0.0})
print("RESULT " + json.dumps(task.id))
"""

PHASES = ("Task.init", "task.connect", "report", "exit")
MARKS = {"Task.init": ("imported", "init"), "task.connect": ("init", "connected"), "report": ("connected", "end")}


def run(env: dict[str, str], root: Path, script: str, *args: str) -> str:
    path = root / f"s{abs(hash(script)) % 10**6}.py"
    path.write_text(textwrap.dedent(script))
    proc = subprocess.run([sys.executable, str(path), *args], env=env, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{path.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def one_trial(
    env: dict[str, str],
    client: Client,
    root: Path,
    template: str,
    index: int,
    profile: str | None,
    warm: bool,
    config: str | None = None,
    fork: str | None = None,
) -> dict[str, Any]:
    """Clone, enqueue, dequeue and start as an agent does, then run the traced script for the clone."""
    clone = client.call("tasks.clone", task=template, new_task_name=f"trial {index}")["id"]
    queue = client.ensure_queue("trips")
    client.call("tasks.enqueue", task=clone, queue=queue)
    client.call("queues.get_next_task", queue=queue)
    client.call("tasks.started", task=clone, force=True)
    out = root / f"trace-{index}.json"
    child = {**env, "CLEARML_TASK_ID": clone, "CLEARML_LOG_TASK_TO_BACKEND": "1"}
    if profile:
        child["_TRIPS_PROFILE"] = f"{profile}.{index}"
    if warm:
        child["_TRIPS_WARM"] = "1"
    if fork:
        child["_TRIPS_FORK"] = fork
    if config:  # as clearml-agent's execute hands the script its configuration (and no console logging)
        child.update(CLEARML_CONFIG_FILE=config, CLEARML_LOG_TASK_TO_BACKEND="0")
    run(child, root, TRACED, str(out))
    return dict(json.loads(out.read_text()))


def summarize(traces: list[dict[str, Any]]) -> None:
    print(f"{'phase':14s} {'wall ms':>8s} {'requests':>9s} {'in requests ms':>15s} {'SDK own ms':>11s}")
    for phase in PHASES:
        walls, counts, spent = [], [], []
        for trace in traces:
            marks = trace["marks"]
            start, end = MARKS.get(phase, ("end", "exit"))
            walls.append(1000 * (marks[end] - marks[start]))
            mine = [c for c in trace["calls"] if c[0] == phase]
            counts.append(len(mine))
            spent.append(1000 * sum(c[2] for c in mine))
        wall, took = statistics.median(walls), statistics.median(spent)
        print(f"{phase:14s} {wall:8.0f} {statistics.median(counts):9.0f} {took:15.0f} {wall - took:11.0f}")
    print("\nrequests of the last repeat (ms):")
    for phase, endpoint, seconds in traces[-1]["calls"]:
        print(f"  {phase:14s} {endpoint:34s} {1000 * seconds:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", help="write a cProfile of each Task.init to PROFILE.<repeat>")
    parser.add_argument("--warm", action="store_true", help="preload as the agents' zygote does (hpo.agents._warm)")
    parser.add_argument("--config", help="the script's clearml.conf (e.g. a local agent's), as execute passes it")
    parser.add_argument(
        "--fork",
        choices=["plain", "freeze"],
        help="with --warm: run the program in a fork of the warm interpreter (freeze: gc.freeze() before it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server data)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hpo-init-trips-"))
    server_dir = root / "server"
    server, _ = local_server.start(server_dir, port=0)
    try:
        (root / "clearml.conf").write_text("sdk { development { report_use_subprocess: false } }\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_", "HPO_"))}
        env.update(server.env(), CLEARML_CONFIG_FILE=str(root / "clearml.conf"), HOME=str(root))
        script = root / "sleeper.py"
        script.write_text("print('never run here')\n")
        out = run(env, root, REGISTER, str(script))
        template = json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][7:])
        with Client(env) as client:
            traces = [
                one_trial(env, client, root, template, i, args.profile, args.warm, args.config, args.fork)
                for i in range(args.repeats)
            ]
        summarize(traces)
    finally:
        local_server.stop(server_dir)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
