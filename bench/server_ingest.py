"""Scalar ingestion and query latency of the embedded server, beside MLflow's tracking server.

Run by hand (needs the bench extra: ``pip install -e '.[bench]'``)::

    python bench/server_ingest.py [--points 50000] [--tasks 10000]

1. Ingestion: one process reports ``--points`` scalar points with the clearml SDK's
   ``Logger.report_scalar`` (20 series), flushes, and the points are confirmed by reading them
   back. The same points go to an MLflow tracking server with its SQLite backend through
   ``MlflowClient.log_batch`` (1,000 metrics a call, MLflow's limit), confirmed by
   ``get_metric_history``. Prints points/s for both and the ratio, also per CPU second of the
   server and client processes together (on a shared machine the wall-time ratio swings with the
   load: MLflow's rate alone varied 1,200-4,300 points/s). The SDK runs as agents run it
   on the embedded server (``hpo.clearml_conf.SDK_OVERRIDES``: reporting subprocess off), and with
   the SDK's defaults, whose reporting subprocess forwards events at its own pace (about 1,000
   points/s on a 2-core machine, whatever the server), so that row measures the SDK.
   Values are loss-like floats (``exp(-i/500)/(series+1)``: 16-17 digits, as training reports).

   What bounds the SDK row: its process reports and serialises on one interpreter (the GIL),
   about 1.3-1.5 CPU s per 50,000 points whatever the server; its sending thread gets little of
   the GIL during the report loop, so most points are serialised and sent after it, in one
   large batch that the server then stores while the SDK waits. Each SDK row prints how long the
   loop took and how long storing took after it. ``--sdk-conf`` tries a ``clearml.conf``
   setting: ``sdk.development.worker.report_event_flush_threshold`` (20 and 1,000 against its
   default 100) made no difference beyond the noise.
2. Query: ``--tasks`` tasks in one project (plus 10% elsewhere), each with a reported metric;
   ``tasks.get_all`` filtered by project and sorted by that metric, 100 a page; p50 and p90.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpo import local_server  # noqa: E402
from hpo.clearml_conf import SDK_OVERRIDES  # noqa: E402
from tests.support.api import RawAPI  # noqa: E402
from tests.support.server import free_port, sdk_env  # noqa: E402

SERIES = 20


def _value(i: int, series: int) -> float:
    """A loss-like value (a float of 16-17 digits, as training reports), the same in every row."""
    return math.exp(-i / 500) / (series + 1)


SDK_REPORTER = """
import math, sys, time
from clearml import Task, Logger
points, series = int(sys.argv[1]), int(sys.argv[2])
task = Task.init(project_name="bench", task_name=sys.argv[3])
log = Logger.current_logger()
print(f"STARTED {task.id} {time.time()}", flush=True)
for i in range(points // series):
    for s in range(series):
        log.report_scalar("metric", f"s{s}", value=math.exp(-i / 500) / (s + 1), iteration=i)
print(f"REPORTED {time.time()}", flush=True)
task.flush(wait_for_uploads=True)
task.close()
"""


def bench_ours(
    server: local_server.RunningServer, root: Path, points: int, subprocess_reporter: bool, extra_conf: str = ""
) -> tuple[float, int, float]:
    """Points through ``Logger.report_scalar``, with the SDK's reporting subprocess on (its default) or off.

    Timed from the first report until the server has stored every point (the task's ``last_metrics``
    counts, read every 20 ms once the last point is reported): ``task.flush`` may return before the last
    batch is stored.
    """
    script = root / "reporter.py"
    script.write_text(SDK_REPORTER)
    env = sdk_env(server, root)
    conf = root / f"clearml-{subprocess_reporter}.conf"
    overrides = SDK_OVERRIDES if not subprocess_reporter else ""  # the SDK's defaults: only the subprocess on
    flag = str(subprocess_reporter).lower()
    conf.write_text(f"{overrides}{extra_conf}\nsdk {{ development {{ report_use_subprocess: {flag} }} }}\n")
    env["CLEARML_CONFIG_FILE"] = str(conf)
    name = f"ingest subprocess={subprocess_reporter} {time.time():.3f}"  # a new task each run (no reuse)
    cmd = [sys.executable, str(script), str(points), str(SERIES), name]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    _, task, started = next(line for line in proc.stdout if line.startswith("STARTED ")).split()
    reporter_cpu = _cpu_seconds(proc.pid)
    api = RawAPI(server)
    server_cpu = _cpu_seconds(server.pid)
    # Polled every 20 ms once every point is reported (not before: the polls cost server CPU too).
    reported = next((float(line.split()[1]) for line in proc.stdout if line.startswith("REPORTED ")), time.time())
    while _counted(api, task) < points // SERIES * SERIES and proc.poll() is None:
        time.sleep(0.02)
    done = time.time()
    seconds = done - float(started)
    server_cpu = _cpu_seconds(server.pid) - server_cpu
    reporter_cpu = _cpu_seconds(proc.pid) - reporter_cpu
    proc.communicate()
    print(
        f"  ({name}: CPU seconds while timed: server {server_cpu:.2f}, reporter {reporter_cpu:.2f};"
        f" report_scalar loop {reported - float(started):.2f} s, then {done - reported:.2f} s until stored)"
    )
    stored = stored_points(api, task)
    api.close()
    return seconds, stored, server_cpu + reporter_cpu


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a live process (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of a live process and its live descendants (MLflow's server runs its workers as children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _cpu_seconds(current)
        todo.extend(children.get(current, ()))
    return total


def _counted(api: RawAPI, task: str) -> int:
    """Scalar points of ``metric`` the server has stored for ``task``, from its ``last_metrics``."""
    doc = api.call("tasks.get_all", {"id": [task], "only_fields": ["last_metrics"]})["tasks"][0]
    series = (doc.get("last_metrics") or {}).get(_md5s("metric")[0]) or {}
    return sum(int(entry.get("count") or 0) for entry in series.values())


def stored_points(api: RawAPI, task: str) -> int:
    """Scalar events of ``metric`` stored for a task, not the SDK's resource monitor's (the histogram would
    down-sample past 2,000 points a series, as ClearML does)."""
    body = {"task": task, "event_type": "training_stats_scalar", "batch_size": 1, "metrics": [{"metric": "metric"}]}
    return int(api.call("events.get_task_events", body)["total"])


def bench_raw(server: local_server.RunningServer, points: int) -> tuple[float, int, float]:
    """Points sent straight to ``events.add_batch``, 1,000 a call: the server alone, as log_batch is for MLflow."""
    api = RawAPI(server)
    task = api.call("tasks.create", {"name": "raw"})["id"]
    events = [
        {"type": "training_stats_scalar", "task": task, "metric": "metric", "variant": f"s{s}", "iter": i,
         "value": _value(i, s), "timestamp": int(time.time() * 1000)}
        for i in range(points // SERIES) for s in range(SERIES)
    ]  # fmt: skip
    start, cpu = time.perf_counter(), _cpu_seconds(server.pid) + time.process_time()
    for chunk in range(0, len(events), 1000):
        api.call("events.add_batch", events[chunk : chunk + 1000])
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds(server.pid) + time.process_time() - cpu
    stored = stored_points(api, task)
    api.close()
    return elapsed, stored, cpu


def bench_mlflow(root: Path, points: int) -> tuple[float, int, float] | None:
    try:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        print("mlflow is not installed (pip install -e '.[bench]'): skipping the MLflow side")
        return None
    port = free_port()
    db = root / "mlflow.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        client = MlflowClient(tracking_uri=url)
        run = client.create_run(client.create_experiment("bench"))
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(f"s{s}", _value(i, s), now, i) for i in range(points // SERIES) for s in range(SERIES)]
        start, cpu = time.perf_counter(), _tree_cpu_seconds(proc.pid) + time.process_time()
        for chunk in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[chunk : chunk + 1000])
        elapsed = time.perf_counter() - start
        cpu = _tree_cpu_seconds(proc.pid) + time.process_time() - cpu
        stored = sum(len(client.get_metric_history(run_id, f"s{s}")) for s in range(SERIES))
        return elapsed, stored, cpu
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_get_all(server: local_server.RunningServer, n_tasks: int) -> list[float]:
    api = RawAPI(server)
    project = api.call("projects.create", {"name": "big"})["id"]
    other = api.call("projects.create", {"name": "other"})["id"]
    ids: list[str] = []
    for i in range(n_tasks + n_tasks // 10):
        target = project if i < n_tasks else other
        ids.append(api.call("tasks.create", {"name": f"t{i}", "project": target})["id"])
    for chunk in range(0, len(ids), 1000):
        events = [
            {"type": "training_stats_scalar", "task": tid, "metric": "validation", "variant": "accuracy",
             "iter": 0, "value": (hash(tid) % 1000) / 1000}
            for tid in ids[chunk : chunk + 1000]
        ]  # fmt: skip
        api.call("events.add_batch", events)
    key = "last_metrics.{}.{}.value".format(*_md5s("validation", "accuracy"))
    body = {"project": [project], "order_by": [f"-{key}"], "page": 0, "page_size": 100}
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        tasks = api.call("tasks.get_all", body)["tasks"]
        timings.append((time.perf_counter() - start) * 1000)
    assert len(tasks) == 100
    api.close()
    return timings


def _md5s(*names: str) -> list[str]:
    import hashlib

    return [hashlib.md5(n.encode()).hexdigest() for n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks of the query part (0: skip it)")
    parser.add_argument(
        "--skip-defaults", action="store_true", help="skip the SDK-defaults row (its subprocess paces it, ~50 s)"
    )
    parser.add_argument("--sdk-conf", default="", help="HOCON added to the SDK rows' clearml.conf (to try a setting)")
    parser.add_argument("--skip-mlflow", action="store_true", help="skip the MLflow row (and the ratios)")
    parser.add_argument("--repeat", type=int, default=1, help="run the SDK row (subprocess off) this many times")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hpo-bench-"))
    server, _ = local_server.start(root / "server", port=free_port())
    try:
        rows = {}
        for run in range(args.repeat):
            suffix = f" #{run + 1}" if args.repeat > 1 else ""
            name = f"SDK report_scalar, subprocess off (as agents run it){suffix}"
            rows[name] = bench_ours(server, root, args.points, False, args.sdk_conf)
        if not args.skip_defaults:
            defaults = bench_ours(server, root, args.points, True, args.sdk_conf)
            rows["SDK report_scalar, SDK defaults (subprocess)"] = defaults
        rows["raw events.add_batch, 1,000 a call"] = bench_raw(server, args.points)
        mlflow = None if args.skip_mlflow else bench_mlflow(root, args.points)
        if mlflow:
            rows["MLflow (sqlite) MlflowClient.log_batch, 1,000 a call"] = mlflow
        for name, (seconds, stored, cpu) in rows.items():
            print(
                f"{name:<55}: {stored:>7} points confirmed in {seconds:6.2f} s = {stored / seconds:>9,.0f} points/s"
                f" ({stored / cpu:,.0f} points per CPU second, server and client)"
            )
        if mlflow:
            ml_rate, ml_cpu_rate = mlflow[1] / mlflow[0], mlflow[1] / mlflow[2]
            for name, (seconds, stored, cpu) in rows.items():
                if not name.startswith("MLflow"):
                    print(
                        f"ratio to MLflow, {name:<44}: {stored / seconds / ml_rate:5.1f}x (goal >= 10x);"
                        f" per CPU second {stored / cpu / ml_cpu_rate:5.1f}x"
                    )
        if args.tasks <= 0:
            return
        timings = bench_get_all(server, args.tasks)
        p50 = statistics.median(timings)
        p90 = statistics.quantiles(timings, n=10)[-1]
        print(
            f"tasks.get_all   : {args.tasks} tasks in the project, sorted by a metric, 100 a page:"
            f" p50 {p50:.1f} ms, p90 {p90:.1f} ms (goal p50 < 50 ms)"
        )
    finally:
        local_server.stop(server.data_dir)
        if not os.environ.get("HPO_BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
