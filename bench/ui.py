"""Server time and size of the web UI's heaviest pages.

Run by hand::

    python bench/ui.py [--tasks 10000] [--points 200000] [--repeat 30]

Seeds a fresh data dir through the server's own API (in process: ``--tasks`` tasks in one
project, each with 4 hyper-parameters and 2 reported metrics; one task with ``--points`` points
in one series plus 3 short ones; 10 tasks with 3 series of 1,000 points for compare), then times
GET requests of the signed-in UI through Starlette's TestClient (server time: the app's handling
of the request, no network). Prints p50 and p95 of

- the experiments table page (50 rows of the 10,000, sorted by a metric column, with a
  metric and a parameter column), beside the anchor: ``tasks.get_all`` of the same 50 tasks
  sorted the same way through the API, in the same run;
- the scalars page of the long task, and the most points any of its series ships, beside the
  anchor: ``events.scalar_metrics_iter_histogram`` of that task as the SDK reads it (down-sampled
  to 2,000 points a series, as ClearML Server does);
- the compare page of 10 tasks;
- the study view of an optimizer task with ``--trials`` child tasks (1,000; made directly through
  the API: 3 searched and 5 constant parameters each, the objective reported once) and 9 analysis
  plots of one point per trial, as the controller reports them: its page, its live JSON (all of it,
  and the "unchanged" answer a polling page gets), beside the anchor ``tasks.get_all`` of the same
  trials (their names, statuses, parameters and last metrics) through the API;

and the bytes of each page's HTML (plotly.js, ~4.8 MB, is a separate file the browser caches).
Goals: table p50 < 150 ms, scalars < 300 ms with at most ~5,000 points a series, compare < 400 ms,
study view < 300 ms. ``--study-only`` seeds and times the study view alone.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpo.server._app import create_app  # noqa: E402
from hpo.server._config import ServerConfig  # noqa: E402
from hpo.server.domain import metric_key  # noqa: E402
from hpo.server.ui import sign_in_link  # noqa: E402
from hpo.server.ui._dispatch import dispatch  # noqa: E402

BASE = "http://127.0.0.1:8008"
TABLE, SCALARS, COMPARE = "experiments table page", "scalars page of the long task", "compare page (10 tasks)"
STUDY, STUDY_JSON, STUDY_POLL = "study view page", "study view JSON (all)", "study view JSON (unchanged)"
STUDY_ANCHOR = "anchor: tasks.get_all of its trials (API)"
ANALYSIS = ("Optimization history", "Hyper-parameter importance (fANOVA)", "Slice plot", "Contour",
            "Parallel coordinates", "Intermediate values", "Timeline", "Cost", "Trials table")  # fmt: skip
SPACE = """parameter_optimization_space = [
  {type = "UniformParameterRange", name = "General/x", min_value = 0.0, max_value = 1.0},
  {type = "LogUniformParameterRange", name = "General/lr", min_value = -5, max_value = -1},
  {type = "DiscreteParameterRange", name = "General/opt", values = ["adam", "sgd"]}]"""
SCALARS_ANCHOR = "anchor: its scalars, 2,000 a series (API)"


def _seed_tasks(state: Any, project: str, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 500):
        calls = [("tasks.create", {"name": f"trial {i:05d}", "project": project, "type": "training"})
                 for i in range(start, min(count, start + 500))]  # fmt: skip
        ids += [str(r["id"]) for r in dispatch(state, *calls)]
    for start in range(0, count, 500):
        calls = []
        for i, task_id in enumerate(ids[start : start + 500], start):
            params = [{"section": "General", "name": n, "value": str(v), "type": t}
                      for n, v, t in (("lr", 10 ** -(i % 5), "float"), ("epochs", i % 7, "int"),
                                      ("opt", ["adam", "sgd"][i % 2], "str"), ("seed", i, "int"))]  # fmt: skip
            calls.append(("tasks.edit_hyper_params", {"task": task_id, "hyperparams": params}))
        dispatch(state, *calls)
    return ids


def _events(api: Callable[..., Any], task_id: str, series: dict[str, int], step: int = 20_000) -> None:
    lines = [
        {"type": "training_stats_scalar", "task": task_id, "metric": title, "variant": name,
         "value": (i % 977) / 977.0, "iter": i, "timestamp": 1_700_000_000_000 + i}
        for key, n in series.items() for title, name in [key.split("/")] for i in range(n)
    ]  # fmt: skip
    for start in range(0, len(lines), step):
        api("events.add_batch", lines=lines[start : start + step])


def _seed_study(state: Any, api: Callable[..., Any], project: str, trials: int) -> tuple[str, list[str]]:
    """An optimizer task as ``hpo search`` leaves it: searched space, objective, child trials, analysis plots."""
    general = [{"section": "General", "name": f"opt/{k}", "value": v, "type": "str"} for k, v in
               (("objective_metric_title", "['validation']"), ("objective_metric_series", "['score']"),
                ("objective_metric_sign", "['max']"))]  # fmt: skip
    (opt,) = dispatch(state, ("tasks.create", {"name": "HPO bench", "project": project, "type": "optimizer"}))
    config = [{"name": "General", "value": SPACE, "type": "dictionary"}]
    dispatch(state, ("tasks.edit_hyper_params", {"task": opt["id"], "hyperparams": general}),
             ("tasks.edit_configuration", {"task": opt["id"], "configuration": config}),
             ("tasks.started", {"task": opt["id"], "force": True}))  # fmt: skip
    ids: list[str] = []
    for start in range(0, trials, 500):
        calls = [("tasks.create", {"name": f"curve [bench #{i}]", "project": project, "type": "training",
                                   "parent": opt["id"]}) for i in range(start, min(trials, start + 500))]  # fmt: skip
        ids += [str(r["id"]) for r in dispatch(state, *calls)]
        values: dict[str, Callable[[int], Any]] = {"x": lambda i: i / trials, "lr": lambda i: 10 ** -(1 + i % 5),
                  "opt": lambda i: ["adam", "sgd"][i % 2], "epochs": lambda i: 3, "seed": lambda i: 1,
                  "batch": lambda i: 32, "folds": lambda i: 5, "data": lambda i: "v1"}  # fmt: skip
        edits = [("tasks.edit_hyper_params", {"task": t, "hyperparams": [
                    {"section": "General", "name": k, "value": str(f(i)), "type": "str"} for k, f in values.items()]})
                 for i, t in enumerate(ids[start:], start)]  # fmt: skip
        dispatch(state, *edits)
    lines = [{"type": "training_stats_scalar", "task": t, "metric": "validation", "variant": "score",
              "value": 1 - (i / trials - 0.3) ** 2, "iter": 0} for i, t in enumerate(ids)]  # fmt: skip
    api("events.add_batch", lines=lines)
    points = {"x": list(range(trials)), "y": [1 - (i / trials - 0.3) ** 2 for i in range(trials)]}
    plots = [{"type": "plot", "task": opt["id"], "metric": title, "variant": title, "iter": 0,
              "plot_str": json.dumps({"data": [{"type": "scatter", "mode": "markers", **points}],
                                      "layout": {"title": {"text": title}}})} for title in ANALYSIS]  # fmt: skip
    api("events.add_batch", lines=plots)
    return str(opt["id"]), ids


def _study_pages(client: TestClient, token: str, opt: str, trials: list[str]) -> dict[str, Callable[[], Any]]:
    version = client.get(f"/ui/study/{opt}").json()["version"]
    body = {"parent": [opt], "page_size": len(trials), "only_fields": ["id", "name", "status", "hyperparams",
                                                                       "last_metrics", "execution.queue"]}  # fmt: skip
    return {
        STUDY_ANCHOR: lambda: client.post(
            "/v2.23/tasks.get_all", json=body, headers={"Authorization": f"Bearer {token}"}
        ),
        STUDY: lambda: client.get(f"/projects/*/experiments/{opt}/general"),
        STUDY_JSON: lambda: client.get(f"/ui/study/{opt}"),
        STUDY_POLL: lambda: client.get(f"/ui/study/{opt}?since={version}"),
    }


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    fn()  # warm caches once, as a user's second visit
    times, last = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        last = fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))], last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--trials", type=int, default=1_000, help="child tasks of the study view's optimizer")
    parser.add_argument("--study-only", action="store_true", help="seed and time the study view only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(ServerConfig(data_dir=Path(tmp) / "server", watchdog_period_s=3600))
        with TestClient(app, base_url=BASE) as client:
            run(app, client, args)


def run(app: Any, client: TestClient, args: argparse.Namespace) -> None:
    state = app.state.server
    creds = state.credentials
    basic = base64.b64encode(f"{creds.access_key}:{creds.secret_key}".encode()).decode()
    token = client.post("/auth.login", headers={"Authorization": f"Basic {basic}"}).json()["data"]["token"]

    def api(endpoint: str, body: dict[str, Any] | None = None, lines: list[dict[str, Any]] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        if lines is not None:
            headers["Content-Type"] = "application/json-lines"
        content = "\n".join(json.dumps(x) for x in lines) if lines is not None else json.dumps(body or {})
        response = client.post(f"/v2.23/{endpoint}", content=content, headers=headers)
        assert response.status_code == 200, response.text[:500]
        return response.json()["data"]

    t0 = time.perf_counter()
    (project,) = dispatch(state, ("projects.create", {"name": "bench"}))
    opt, trials = _seed_study(state, api, project["id"], args.trials)
    print(f"seeded an optimizer task with {args.trials} trials in {time.perf_counter() - t0:.1f} s")
    if args.study_only:
        assert client.get(sign_in_link(creds, BASE, "/projects")).status_code == 200
        _report(_study_pages(client, token, opt, trials), args.repeat, {STUDY: 300}, STUDY, STUDY_ANCHOR)
        return
    ids = _seed_tasks(state, project["id"], args.tasks)
    for start in range(0, len(ids), 1000):  # 2 metrics on each task: last values for the columns
        lines = [{"type": "training_stats_scalar", "task": t, "metric": "validation", "variant": v,
                  "value": (i * 37 % 1000) / 1000, "iter": 0} for i, t in enumerate(ids[start : start + 1000], start)
                 for v in ("accuracy", "loss")]  # fmt: skip
        api("events.add_batch", lines=lines)
    long_task = ids[0]
    short = {"validation/accuracy": 500, "validation/loss": 500, "lr/lr": 500}
    _events(api, long_task, {"train/loss": args.points, **short})
    compared = ids[1:11]
    for task_id in compared:
        _events(api, task_id, {"train/loss": 1000, "validation/accuracy": 1000, "validation/loss": 1000})
    print(f"seeded {args.tasks} tasks, {args.points} points on one, in {time.perf_counter() - t0:.1f} s")

    response = client.get(sign_in_link(creds, BASE, "/projects"))
    assert response.status_code == 200
    columns = "cols=m:validation/accuracy,p:General/lr&sort=m:validation/accuracy"
    table_url = f"/projects/{project['id']}/experiments?{columns}"
    by_metric = f"-last_metrics.{metric_key('validation')}.{metric_key('accuracy')}.value"
    anchor_body = {"project": [project["id"]], "order_by": [by_metric], "page": 0,
                   "page_size": 50, "only_fields": ["id", "name", "status", "type", "tags", "started",
                                                    "last_metrics", "hyperparams"]}  # fmt: skip
    pages: dict[str, Callable[[], Any]] = {
        "anchor: tasks.get_all (API, 50 rows)": lambda: client.post(
            "/v2.23/tasks.get_all", json=anchor_body, headers={"Authorization": f"Bearer {token}"}
        ),
        TABLE: lambda: client.get(table_url),
        SCALARS_ANCHOR: lambda: client.post(
            "/v2.23/events.scalar_metrics_iter_histogram",
            json={"task": long_task},
            headers={"Authorization": f"Bearer {token}"},
        ),
        SCALARS: lambda: client.get(f"/projects/*/experiments/{long_task}/output/scalars"),
        COMPARE: lambda: client.get("/compare?ids=" + ",".join(compared)),
        **_study_pages(client, token, opt, trials),
    }
    results = _report(pages, args.repeat, {}, STUDY, STUDY_ANCHOR)
    scalars = pages[SCALARS]().text
    blocks = re.findall(r'<script type="application/json" id="fig-[^"]+">(.*?)</script>', scalars, re.S)
    most = max(len(trace["x"]) for block in blocks for trace in json.loads(block)["data"])
    anchor = results["anchor: tasks.get_all (API, 50 rows)"][0]
    table = results[TABLE][0]
    print(f"\nmost points in one scalar series sent: {most:,} (of {args.points:,} stored)")
    print(f"table page / tasks.get_all anchor: {table / anchor:.2f}x")
    print(f"scalars page / all-points API anchor: {results[SCALARS][0] / results[SCALARS_ANCHOR][0]:.2f}x")
    _goals(results, {TABLE: 150, SCALARS: 300, COMPARE: 400, STUDY: 300})


def _report(
    pages: dict[str, Callable[[], Any]], repeat: int, goals: dict[str, int], page: str, anchor: str
) -> dict[str, tuple[float, float, int]]:
    """Time each page, print p50/p95/bytes, the page's ratio to its anchor, and the goals given."""
    results: dict[str, tuple[float, float, int]] = {}
    print(f"\n{'page':42} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}")
    for name, fn in pages.items():
        p50, p95, response = _time(fn, repeat)
        assert response.status_code == 200, (name, response.status_code, response.text[:300])
        results[name] = (p50, p95, len(response.content))
        print(f"{name:42} {p50:8.1f} {p95:8.1f} {len(response.content):10,}")
    print(f"\n{page} / {anchor}: {results[page][0] / results[anchor][0]:.2f}x")
    _goals(results, goals)
    return results


def _goals(results: dict[str, tuple[float, float, int]], goals: dict[str, int]) -> None:
    for name, goal in goals.items():
        verdict = "meets" if results[name][0] < goal else "MISSES"
        print(f"{name}: p50 {results[name][0]:.0f} ms {verdict} the goal of < {goal} ms")


if __name__ == "__main__":
    main()
