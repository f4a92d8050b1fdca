"""Every reported point counted back after N SDK processes report at once beside a search and the web UI.

Run by hand (not in CI)::

    python bench/server_load.py [--processes 16] [--seconds 60] [--http httptools|h11]

On a fresh data dir and free port, one embedded server takes, at the same time:

- ``--processes`` SDK processes, each with its own ``Task.init`` task, calling
  ``Logger.report_scalar`` in a loop (``--series`` series an iteration, as a training loop does,
  resource monitoring on) for ``--seconds``, with a scatter plot and a console line every 50
  iterations; each then flushes, closes and says how much it sent;
- a real search (``hpo search`` on the ``curve`` template of tests/support/search.py, random
  sampler, ``--trials`` trials, two local agents);
- the web UI, signed in through a sign-in link, fetching the load project's experiments table and
  one reporter's scalars tab in a loop;
- ``debug.ping`` every 50 ms (its idle p50/p99 are measured first, before anything else starts).

Then every point is counted back through ``events.get_task_events`` (scalars of the reporters'
own metric, paged) and ``events.get_task_log``: per task and in total, sent, stored, lost (sent
but absent) and duplicated (stored more than once). Also prints how many ``400 Invalid HTTP
request`` lines the server logged and which reporter consoles name an error, and ``--http``
runs the server on uvicorn's h11 parser instead of httptools (an A/B for the 400s).

``--sdk-defaults`` runs the reporters with the SDK's reporting subprocess, its default on Linux,
which the suite's clearml.conf turns off (``hpo.clearml_conf.SDK_OVERRIDES``): the subprocess is
forked after ``Task.init`` has made requests, and it and the parent then hold the same pooled
keep-alive connections to the server and may write requests on them at once. Interleaved bytes
are what uvicorn answers ``400 Invalid HTTP request received`` (final for the SDK: the batch is
dropped), and a response read by the other process makes the SDK send a stored batch again
(scalars, plots and images are keyed and stored once; console lines are appended, as ClearML does).
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
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpo.server.ui import sign_in_link  # noqa: E402
from tests.support.api import RawAPI  # noqa: E402
from tests.support.search import SearchEnv, start_search_env  # noqa: E402

METRIC = "load"
PROJECT = "load"

REPORTER = """
import json, sys, time
from clearml import Task
index, seconds, series, pause = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
task = Task.init(project_name="load", task_name=f"reporter {index}", auto_connect_frameworks=False)
log = task.get_logger()
scalars = plots = lines = 0
i = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for s in range(series):
        log.report_scalar("load", f"s{s}", value=float(i) + s / 100, iteration=i)
        scalars += 1
    if i % 50 == 0:
        log.report_scatter2d("scatter", "xy", scatter=[[j, j * i] for j in range(20)], iteration=i)
        plots += 1
        print(f"load-line {index} {lines}")
        lines += 1
    i += 1
    time.sleep(pause)
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps({"task": task.id, "scalars": scalars, "plots": plots, "lines": lines, "iterations": i}))
task.close()
"""


def _latency(values: list[float]) -> str:
    """p50 and p99 of latencies in seconds, in ms."""
    if not values:
        return "no pings"
    p99 = statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms ({len(values)} pings)"


def _ping_loop(url: str, stop: threading.Event, out: list[float], failures: list[str]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = client.post(f"{url}/debug.ping", json={})
                if response.status_code != 200:
                    failures.append(str(response.status_code))
            except httpx.HTTPError as err:
                failures.append(type(err).__name__)
            out.append(time.perf_counter() - started)
            time.sleep(0.05)


def _ui_loop(env: SearchEnv, api: RawAPI, stop: threading.Event, out: Counter[str]) -> None:
    """Sign in through a one-time link, then fetch the experiments table and a task's scalars tab."""
    server = env.env.server
    with httpx.Client(base_url=server.url, timeout=120, follow_redirects=True) as client:
        out[f"sign-in {client.get(sign_in_link(server.credentials(), server.url, '/projects')).status_code}"] += 1
        while not stop.is_set():
            projects = api.call("projects.get_all", {"name": f"^{PROJECT}$", "only_fields": ["id"]})["projects"]
            if not projects:
                time.sleep(1)
                continue
            project = projects[0]["id"]
            tasks = api.call("tasks.get_all", {"project": [project], "only_fields": ["id"], "page_size": 1})
            pages = [f"/projects/{project}/experiments"]
            pages += [f"/projects/{project}/experiments/{t['id']}/output/scalars" for t in tasks["tasks"]]
            for page in pages:
                kind = "table" if page.endswith("/experiments") else "scalars"
                out[f"{kind} {client.get(page).status_code}"] += 1
            time.sleep(0.5)


def _stored(api: RawAPI, task: str) -> tuple[Counter[tuple[str, int]], int, Counter[int]]:
    """The reporter metric's scalar keys (variant, iteration) with their counts, plots stored, console lines."""
    keys: Counter[tuple[str, int]] = Counter()
    scroll: str | None = None
    while True:
        body: dict[str, Any] = {"task": task, "event_type": "training_stats_scalar", "batch_size": 20_000,
                                "metrics": [{"metric": METRIC}]}  # fmt: skip
        if scroll:
            body["scroll_id"] = scroll
        page = api.call("events.get_task_events", body)
        keys.update((str(e["variant"]), int(e["iter"])) for e in page["events"])
        scroll = page["scroll_id"]
        if not page["events"]:
            break
    plots = api.call("events.get_task_events", {"task": task, "event_type": "plot", "batch_size": 1})["total"]
    log = api.call("events.get_task_log", {"task": task, "batch_size": 100_000})["events"]
    lines: Counter[int] = Counter()
    for event in log:
        for text in str(event.get("msg", "")).splitlines():
            if text.startswith("load-line "):
                lines[int(text.split()[2])] += 1
    return keys, int(plots), lines


def _count_back(api: RawAPI, results: list[dict[str, Any]], series: int) -> None:
    totals = Counter[str]()
    print(f"{'task':<34} {'sent':>7} {'stored':>7} {'lost':>5} {'dup':>5} | plots s/st | lines s/st/lost/dup")
    for result in results:
        keys, plots, lines = _stored(api, result["task"])
        sent_keys = {(f"s{s}", i) for i in range(result["iterations"]) for s in range(series)}
        lost = len(sent_keys - keys.keys())
        dup = sum(n - 1 for n in keys.values())
        line_lost = sum(1 for n in range(result["lines"]) if n not in lines)
        line_dup = sum(n - 1 for n in lines.values())
        stored = sum(keys.values())
        totals.update(sent=result["scalars"], stored=stored, lost=lost, dup=dup, plots=result["plots"],
                      plots_stored=plots, lines=result["lines"], lines_lost=line_lost, lines_dup=line_dup)  # fmt: skip
        line_counts = f"{result['lines']}/{sum(lines.values())}/{line_lost}/{line_dup}"
        print(f"{result['task']:<34} {result['scalars']:>7} {stored:>7} {lost:>5} {dup:>5} |"
              f" {result['plots']:>4}/{plots:<4} | {line_counts}")  # fmt: skip
    print(
        f"TOTAL scalars: {totals['sent']} sent, {totals['stored']} stored, {totals['lost']} lost,"
        f" {totals['dup']} duplicated; plots {totals['plots']} sent, {totals['plots_stored']} stored;"
        f" console lines {totals['lines']} sent, {totals['lines_lost']} lost, {totals['lines_dup']} duplicated"
    )


def _reporters(env: SearchEnv, args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    script = env.root / "reporter.py"
    script.write_text(REPORTER)
    env_vars = dict(env.env.vars)
    if args.sdk_defaults:  # the SDK's own default: events go through a forked reporting subprocess
        conf = env.root / "clearml-subprocess.conf"
        conf.write_text("sdk { development { report_use_subprocess: true } }")
        env_vars["CLEARML_CONFIG_FILE"] = str(conf)
    procs = []
    for index in range(args.processes):
        cmd = [sys.executable, str(script), str(index), str(args.seconds), str(args.series), str(args.pause)]
        with open(env.root / f"reporter-{index}.log", "w") as out:  # the child keeps its own descriptor
            procs.append(subprocess.Popen(cmd, env=env_vars, stdout=out, stderr=subprocess.STDOUT, cwd=env.root))
    return procs


def _results(env: SearchEnv, count: int) -> list[dict[str, Any]]:
    results = []
    for index in range(count):
        text = (env.root / f"reporter-{index}.log").read_text()
        found = [json.loads(line[7:]) for line in text.splitlines() if line.startswith("RESULT ")]
        errors = [line for line in text.splitlines() if "rror" in line or " 400" in line or "Invalid HTTP" in line]
        if errors:
            print(f"reporter {index}: {len(errors)} error lines, e.g. {errors[0][:200]}")
        if found:
            results.append(found[-1])
        else:
            print(f"reporter {index} printed no RESULT; its log ends:\n{text[-1500:]}")
    return results


def run(env: SearchEnv, args: argparse.Namespace) -> None:
    """The load (see the module docstring), then the count."""
    url = env.env.server.url
    idle: list[float] = []
    stop_idle = threading.Event()
    pinger = threading.Thread(target=_ping_loop, args=(url, stop_idle, idle, []))
    pinger.start()
    time.sleep(5)
    stop_idle.set()
    pinger.join()
    api = RawAPI(env.env.server)
    search = env.spawn("search", str(env.space(trials=args.trials)), "--local-workers", "2", "--json")
    procs = _reporters(env, args)
    stop = threading.Event()
    busy: list[float] = []
    ping_failures: list[str] = []
    ui: Counter[str] = Counter()
    threads = [
        threading.Thread(target=_ping_loop, args=(url, stop, busy, ping_failures)),
        threading.Thread(target=_ui_loop, args=(env, api, stop, ui)),
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for proc in procs:
        proc.wait(timeout=args.seconds + 900)
    took = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join()
    try:
        search.wait(timeout=600)
    except subprocess.TimeoutExpired:
        search.kill()
        search.wait()
    reporting = "the SDK's reporting subprocess" if args.sdk_defaults else "the reporting subprocess off"
    search_text = f"search exit {search.returncode} ({args.trials} trials of curve, 2 local agents)"
    print(f"{args.processes} reporters x {args.seconds:g} s (done after {took:.0f} s) with {reporting};"
          f" http={args.http}; {search_text}")  # fmt: skip
    print(f"UI fetches: {dict(ui)}")
    print(f"debug.ping idle: {_latency(idle)}")
    print(f"debug.ping load: {_latency(busy)}; failures: {dict(Counter(ping_failures))}")
    log = (env.env.server.data_dir / "server.log").read_text(errors="replace")
    invalid, tracebacks = log.count("Invalid HTTP request"), log.count("Traceback")
    print(f"server log: {invalid} 'Invalid HTTP request', {tracebacks} tracebacks")
    _count_back(api, _results(env, args.processes), args.series)
    api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--series", type=int, default=4, help="scalar series a reporter reports each iteration")
    parser.add_argument("--pause", type=float, default=0.01, help="seconds a reporter sleeps between iterations")
    parser.add_argument("--trials", type=int, default=6, help="trials of the search run beside the reporters")
    parser.add_argument(
        "--sdk-defaults",
        action="store_true",
        help="reporters use the SDK's reporting subprocess (its default; the suite's clearml.conf turns it off)",
    )
    parser.add_argument("--http", choices=["httptools", "h11"], default="httptools", help="uvicorn's HTTP parser")
    args = parser.parse_args()
    os.environ["HPO_SERVER_HTTP"] = args.http  # read by the server process (hpo/server/_serve.py)
    root = Path(tempfile.mkdtemp(prefix="hpo-load-"))
    print(f"data under {root} (kept with HPO_BENCH_KEEP=1)")
    try:
        with start_search_env(root) as env:
            run(env, args)
    finally:
        if not os.environ.get("HPO_BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
