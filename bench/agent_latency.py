"""What queueing through a real clearml-agent adds to a trial, on the embedded server.

Run by hand (not a test)::

    python bench/agent_latency.py [--tasks 20] [--poll 0.5]

Starts a throwaway embedded server and one local agent (``hpo.agents``), registers a trivial
``Task.init`` template, then measures over ``--tasks`` clones:

* enqueue -> ``in_progress`` with an idle agent (one task at a time);
* script exit -> the agent starts the next task (all tasks queued at once);

and prints them beside the template's own run time (``python template.py``), with a breakdown of
where a trial's time goes (interpreter start + ``import clearml``, ``Task.init``, exit and close).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from hpo import agents, local_server
from hpo.agents._api import Client

TEMPLATE = """
import json, os, time
t0 = time.time()
from clearml import Task
t1 = time.time()
task = Task.init(project_name="bench", task_name="trivial")
t2 = time.time()
print("trivial work")
out = os.environ.get("HPO_BENCH_DIR")
if out:
    with open(os.path.join(out, task.id + ".json"), "w") as f:
        json.dump({"start": t0, "imported": t1, "init": t2, "end": time.time()}, f)
"""

SDK_CONF = "sdk { development { report_use_subprocess: false } }\n"


def ts(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


def stats(values: list[float]) -> str:
    values = sorted(v for v in values if v == v)
    if not values:
        return "n/a"
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return f"median {statistics.median(values):6.2f} s   p90 {p90:6.2f} s   (n={len(values)})"


def wait_done(client: Client, ids: list[str], timeout: float = 300) -> dict[str, dict[str, object]]:
    end = time.time() + timeout
    while time.time() < end:
        tasks = client.call("tasks.get_all", id=ids, only_fields=["id", "status", "started", "completed"])["tasks"]
        if all(t["status"] in ("completed", "failed", "stopped") for t in tasks) and len(tasks) == len(ids):
            return {str(t["id"]): t for t in tasks}
        time.sleep(0.05)
    raise SystemExit(f"tasks did not finish within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.5, help="agent poll interval (s)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hpo-agent-bench-"))
    marks = root / "marks"
    marks.mkdir()
    server, _ = local_server.start(root / "server", port=0)  # 0: any free port
    (root / "clearml.conf").write_text(SDK_CONF)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML_")}
    env.update(server.env(), CLEARML_CONFIG_FILE=str(root / "clearml.conf"), HPO_HOME=str(root / "home"))
    env.update(HPO_BENCH_DIR=str(marks), HOME=str(root))
    (root / "template.py").write_text(TEMPLATE)
    try:
        own = []
        for _ in range(3):
            t0 = time.time()
            subprocess.run([sys.executable, "template.py"], cwd=root, env=env, check=True, capture_output=True)
            own.append(time.time() - t0)
        client = Client(env)
        template = client.call("tasks.get_all", name="^trivial$", only_fields=["id"])["tasks"][0]["id"]
        agents.start(["bench"], 1, env=env, poll_s=args.poll, home=root / "home")
        queue = client.ensure_queue("bench")

        def clone_and_enqueue() -> tuple[str, float]:
            task_id = str(client.call("tasks.clone", task=template)["id"])
            t0 = time.time()
            client.call("tasks.enqueue", task=task_id, queue=queue)
            return task_id, t0

        pickup, exit_to_done = [], []
        for _ in range(args.tasks):  # idle agent: one task at a time
            task_id, t0 = clone_and_enqueue()
            done = wait_done(client, [task_id])[task_id]
            mark = json.loads((marks / f"{task_id}.json").read_text())
            pickup.append(ts(str(done["started"])) - t0)
            exit_to_done.append(ts(str(done["completed"])) - mark["end"])
        burst = [clone_and_enqueue()[0] for _ in range(args.tasks)]  # busy agent: all queued at once
        done_all = wait_done(client, burst, timeout=60 + 30 * args.tasks)
        ordered = sorted(burst, key=lambda i: ts(str(done_all[i]["started"])))
        m = {i: json.loads((marks / f"{i}.json").read_text()) for i in ordered}
        ready = [ts(str(done_all[b]["started"])) - m[a]["end"] for a, b in zip(ordered, ordered[1:], strict=False)]
        to_script = [m[i]["start"] - ts(str(done_all[i]["started"])) for i in ordered]
        imports = [m[i]["imported"] - m[i]["start"] for i in ordered]
        inits = [m[i]["init"] - m[i]["imported"] for i in ordered]
        starts = [ts(str(done_all[i]["started"])) for i in ordered]
        per_task = [b - a for a, b in zip(starts, starts[1:], strict=False)]

        print(f"clearml-agent, 1 worker, poll {args.poll:g} s, {args.tasks} tasks; embedded server {server.url}")
        print(f"template's own run time (python template.py)   {stats(own)}")
        print(f"enqueue -> in_progress (idle agent)             {stats(pickup)}")
        print(f"script exit -> agent starts next task           {stats(ready)}")
        print(f"task to task, queue full (throughput)           {stats(per_task)}")
        print("where the time goes (queued tasks):")
        print(f"  in_progress -> script's first line (agent's execute child)  {stats(to_script)}")
        print(f"  script: import clearml                                     {stats(imports)}")
        print(f"  script: Task.init                                          {stats(inits)}")
        print(f"  script exit -> tasks.completed (SDK close, agent notices)  {stats(exit_to_done)}")
    finally:
        agents.stop(home=root / "home", timeout=10)
        local_server.stop(root / "server")


if __name__ == "__main__":
    main()
