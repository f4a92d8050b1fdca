"""Durability and concurrency of the embedded server's storage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from hpo import local_server
from tests.support.api import RawAPI
from tests.support.server import Env, free_port, sdk_env


def test_kill_9_loses_no_acknowledged_write(clearml: Env) -> None:
    api = RawAPI(clearml.server)
    project = api.call("projects.create", {"name": "durable"})["id"]
    ids = [api.call("tasks.create", {"name": f"t{i}", "project": project})["id"] for i in range(20)]
    events = [
        {"type": "training_stats_scalar", "task": ids[0], "metric": "loss", "variant": "train", "iter": i, "value": i}
        for i in range(100)
    ]
    api.call("events.add_batch", events)
    api.call("tasks.edit", {"task": ids[1], "comment": "last write before the kill"})
    api.close()

    os.kill(clearml.server.pid, signal.SIGKILL)
    restarted, new = local_server.start(clearml.server.data_dir, port=free_port())
    assert new
    api = RawAPI(restarted)
    try:
        tasks = api.call("tasks.get_all", {"project": [project], "only_fields": ["name", "comment", "last_metrics"]})
        assert {t["id"] for t in tasks["tasks"]} == set(ids)
        by_id = {t["id"]: t for t in tasks["tasks"]}
        assert by_id[ids[1]]["comment"] == "last write before the kill"
        series = api.call("events.scalar_metrics_iter_histogram", {"task": ids[0]})
        assert series["loss"]["train"]["y"] == [float(i) for i in range(100)]
        (last,) = [v for m in by_id[ids[0]]["last_metrics"].values() for v in m.values()]
        assert (last["value"], last["min_value"], last["max_value"]) == (99, 0, 99)
    finally:
        api.close()
        local_server.stop(restarted.data_dir)


REPORTER = """
import sys, json
from clearml import Task, Logger
task = Task.init(project_name="concurrent", task_name="w" + sys.argv[1])
for i in range(200):
    Logger.current_logger().report_scalar("loss", "train", value=float(i), iteration=i)
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps(task.id))
task.close()
"""


def test_several_processes_report_at_once(clearml: Env) -> None:
    script = clearml.root / "reporter.py"
    script.write_text(REPORTER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(n)],
            env=sdk_env(clearml.server, clearml.root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    task_ids = [line[7:].strip('"') for out in outputs for line in out.splitlines() if line.startswith("RESULT ")]
    assert len(set(task_ids)) == 4
    api = RawAPI(clearml.server)
    try:
        for task_id in task_ids:
            series = api.call("events.scalar_metrics_iter_histogram", {"task": task_id})
            assert series["loss"]["train"]["x"] == list(range(200))
            assert api.call("tasks.get_by_id", {"task": task_id})["task"]["status"] == "completed"
    finally:
        api.close()
