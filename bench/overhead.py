"""Per-trial overhead of ``hpo search`` beside ClearML's stock ``OptimizerOptuna`` and plain Optuna.

Run by hand (not a test)::

    python bench/overhead.py [--sleep 1 5] [--trials 40] [--workers 2]
                             [--stock-default-trials N | --skip-stock-default | --skip-stock]
                             [--stock-full-stop] [--plain] [--keep]

A throwaway embedded server and a trivial template: it sleeps ``T`` seconds (``--sleep``) and reports
``validation/score``, a known function of its one parameter ``x``. For each ``T``:

* **ours**: ``hpo search`` (the real CLI, TPE) with ``--local-workers W`` real clearml-agents, whose
  tasks start as forks of a warm interpreter (``hpo.agents._zygote``);
* **ours, plain agents** (``--plain``): the same with ``HPO_AGENT_ZYGOTE=0``, each task in fresh
  interpreters as clearml-agent runs it (the figure before the zygote);
* **stock@0.02**: ``HyperParameterOptimizer`` + ``clearml.automation.optuna.OptimizerOptuna`` with
  ``pool_period_min=0.02``, on ``W`` agents started by the same machinery (``hpo.agents``: agents in
  this environment, 0.5 s queue poll) but without the zygote, as clearml-agent runs tasks; same
  server and template;
* **stock@default**: the same with its default ``pool_period_min`` (2 minutes). It needs about
  ``trials / W * 2`` minutes: ``--stock-default-trials N`` cuts it to N trials (the output then says
  so and shows N) and ``--skip-stock-default`` leaves it out;
* **floor**: in-process Optuna (``study.optimize(n_jobs=W)``) calling the same function.

Wall time is from the first trial's start to the moment the controller knows the last one ended
(Optuna's own trial timestamps for ours and the floor; ``optimizer.start()`` to ``wait()`` for stock).
Per-trial overhead = wall x workers / trials - T.

Where the time goes, per trial (medians, from the server's ``created``/``started``/``completed`` and
timestamps the template writes): the controller's notice of a finished trial until the next clone
exists, clone -> the agent takes it (enqueue + the agent's poll), the agent's ``clearml-agent execute``
child until the script's first line, ``import clearml``, ``Task.init``, the work, the SDK's shutdown
(script end -> its exit handlers done, measured with an ``atexit`` hook registered before
``Task.init``), and the script's exit -> ``completed`` (the agent noticing). Separately, outside any
agent: a bare interpreter vs ``import clearml``, and the SDK's shutdown with its default
``report_use_subprocess: true`` vs the ``false`` our agents configure.

``--profile-init`` profiles each trial's ``Task.init`` (cProfile, inside the agent's program) and
prints the profiles added together.

The stock driver leaves right after ``optimizer.wait()``: the documented ``wait(); stop()`` then
hangs for the reporter's 5-minute report period (~300 s measured); ``--stock-full-stop`` includes it.
Everything (server, agents, temp dir) is removed at the end unless ``--keep``.
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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hpo import agents, local_server
from hpo.agents._api import Client
from hpo.study import TrialAttr, load
from hpo.study import launched as launched_trial

# The trivial template. An atexit hook registered BEFORE Task.init runs AFTER the SDK's own exit
# handler (atexit is last-in first-out): its timestamp minus "end" is the SDK's shutdown.
TEMPLATE = """
import atexit, json, os, time
t0 = time.time()
from clearml import Task
t1 = time.time()
out = os.environ.get("HPO_BENCH_DIR")
marks = {"start": t0, "imported": t1}
def _exited():
    if out and "id" in marks:
        with open(os.path.join(out, marks["id"] + ".exit"), "w") as f:
            f.write(repr(time.time()))
atexit.register(_exited)
if out and os.environ.get("HPO_BENCH_PROFILE"):  # --profile-init: a cProfile of Task.init per trial
    import cProfile
    profile = cProfile.Profile()
    task = profile.runcall(Task.init, project_name="bench overhead", task_name="sleeper")
    profile.dump_stats(os.path.join(out, task.id + ".prof"))
else:
    task = Task.init(project_name="bench overhead", task_name="sleeper")
marks["init"] = time.time()
marks["id"] = task.id
args = task.connect({"x": 0.5, "sleep_s": 0.0})
marks["connected"] = time.time()
time.sleep(float(args["sleep_s"]))
x = float(args["x"])
task.get_logger().report_scalar("validation", "score", value=1.0 - (x - 0.3) ** 2, iteration=0)
marks["end"] = time.time()
if out:
    with open(os.path.join(out, task.id + ".json"), "w") as f:
        json.dump(marks, f)
"""

REGISTER = """
import json, sys
from clearml import Task
task = Task.create(project_name="bench overhead", task_name="sleeper T=" + sys.argv[2], script=sys.argv[1],
                   add_task_init_call=False, force_single_script_file=True, binary="python3", packages=["clearml"])
task.set_parameters({"General/x": 0.5, "General/sleep_s": float(sys.argv[2])})
task.add_tags(["hpo-template", "template:" + sys.argv[3]])
print("RESULT " + json.dumps(task.id))
"""

# ClearML's stock optimizer, driven the way its documentation shows.
STOCK = """
import json, os, sys, time
from clearml import Task
from clearml.automation import HyperParameterOptimizer, UniformParameterRange
from clearml.automation.optuna import OptimizerOptuna
template_id, queue, trials, workers, pool = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
task = Task.init(project_name="bench overhead", task_name="stock optimizer " + queue, task_type="optimizer",
                 reuse_last_task_id=False)
kwargs = {} if pool == "default" else {"pool_period_min": float(pool)}
optimizer = HyperParameterOptimizer(
    base_task_id=template_id, hyper_parameters=[UniformParameterRange("General/x", 0.0, 1.0)],
    objective_metric_title="validation", objective_metric_series="score", objective_metric_sign="max",
    optimizer_class=OptimizerOptuna, max_number_of_concurrent_tasks=workers, execution_queue=queue,
    total_max_jobs=trials, max_iteration_per_job=None, **kwargs)
t0 = time.time()
optimizer.start()
optimizer.wait()
t1 = time.time()
ids = list(optimizer.optimizer.get_created_jobs_ids())
result = {"start": t0, "done": t1, "ids": ids}
if sys.argv[6] == "stop":
    optimizer.stop()
    result["stopped"] = time.time()
print("RESULT " + json.dumps(result), flush=True)
if sys.argv[6] != "stop":
    # stop() after wait() joins the reporter thread, which sleeps out its report period (5 minutes by
    # default) because the finished optimizer never sets the stop event: leave without it.
    os._exit(0)
"""

SPACE = """
template: {key}
objective: {{title: validation, series: score, direction: max}}
trials: {trials}
concurrency: {workers}
sampler: {{name: tpe, seed: 1}}
pruner: none
parameters:
  General/x: {{type: float, low: 0.0, high: 1.0}}
"""

FAST_CONF = "sdk { development { report_use_subprocess: false } }\n"
DEFAULT_CONF = "sdk { }\n"  # the SDK's defaults: report_use_subprocess true
# The stock run's agents; `hpo search`'s own agents poll every 0.1 s, hpo.agents.start's default is 0.25 s,
# clearml-agent's 5 s.
AGENT_POLL_S = 0.5


def score(x: float) -> float:
    return 1.0 - (x - 0.3) ** 2


def ts(value: Any) -> float:
    return datetime.fromisoformat(str(value)).timestamp() if value else float("nan")


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def p90(values: Sequence[float]) -> float:
    clean = sorted(v for v in values if v == v)
    return clean[min(len(clean) - 1, round(0.9 * (len(clean) - 1)))] if clean else float("nan")


@dataclass
class Bench:
    """The server, the environment every ClearML program here gets, and the paths."""

    root: Path
    env: dict[str, str]
    marks: Path
    client: Client
    templates: dict[float, str] = field(default_factory=dict)

    def python(self, script: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600) -> Any:
        path = self.root / f"script_{abs(hash(script)) % 10**8}.py"
        path.write_text(textwrap.dedent(script))
        proc = subprocess.run(
            [sys.executable, str(path), *args], cwd=self.root, env=dict(env or self.env), capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"{path.name} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        return results[-1] if results else None

    def register(self, sleep_s: float) -> str:
        script = self.root / "sleeper.py"
        script.write_text(textwrap.dedent(TEMPLATE))
        key = f"sleeper-{sleep_s:g}"
        self.templates[sleep_s] = str(self.python(REGISTER, str(script), f"{sleep_s:g}", key))
        return key

    def tasks(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        fields = ["id", "status", "created", "started", "completed", "last_worker"]
        return list(self.client.call("tasks.get_all", id=list(ids), only_fields=fields, page_size=len(ids))["tasks"])


def setup(root: Path) -> tuple[Bench, Path]:
    server_dir = root / "server"
    server, _ = local_server.start(server_dir, port=0, task_timeout_s=30)  # 0: any free port
    (root / "clearml.conf").write_text(FAST_CONF)
    (root / "default.conf").write_text(DEFAULT_CONF)
    marks = root / "marks"
    marks.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_", "HPO_"))}
    env.update(server.env(), CLEARML_CONFIG_FILE=str(root / "clearml.conf"), HPO_HOME=str(root / "home"))
    env.update(HPO_BENCH_DIR=str(marks), HOME=str(root), PYTHONUNBUFFERED="1")
    return Bench(root, env, marks, Client(env)), server_dir


@dataclass
class Run:
    """One variant's result for one T."""

    name: str
    sleep_s: float
    trials: int
    workers: int
    wall: float
    ids: list[str]
    command_wall: float | None = None
    note: str = ""
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def overhead(self) -> float:
        return self.wall * self.workers / self.trials - self.sleep_s


def run_floor(sleep_s: float, trials: int, workers: int) -> Run:
    """Plain Optuna in this process: the same function, no ClearML at all."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("General/x", 0.0, 1.0)
        time.sleep(sleep_s)
        return score(x)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    started = time.time()
    study.optimize(objective, n_trials=trials, n_jobs=workers)
    return Run("floor (in-process Optuna)", sleep_s, trials, workers, time.time() - started, [])


def run_ours(bench: Bench, key: str, sleep_s: float, trials: int, workers: int, plain: bool = False) -> Run:
    """``hpo search`` through the real CLI, with its own local agents (``plain``: without the zygote)."""
    name = f"ours-{sleep_s:g}{'-plain' if plain else ''}"
    space = bench.root / f"{name}.yaml"
    space.write_text(SPACE.format(key=key, trials=trials, workers=workers))
    cmd = [sys.executable, "-c", "from hpo.cli import main; main()", "search", str(space), "--json"]
    cmd += ["--local-workers", str(workers), "--queue", name, "--study", name]
    started = time.time()
    env = {**bench.env, "HPO_AGENT_ZYGOTE": "0" if plain else "1"}
    proc = subprocess.run(cmd, cwd=bench.root, env=env, capture_output=True, text=True, timeout=3600)
    command_wall = time.time() - started
    if proc.returncode != 0:
        raise SystemExit(f"hpo search failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    storage = f"sqlite:///{bench.root / 'home' / 'studies.db'}"
    launched = [t for t in load(name, storage).trials if launched_trial(t)]
    starts = [t.datetime_start.timestamp() for t in launched if t.datetime_start]
    ends = [t.datetime_complete.timestamp() for t in launched if t.datetime_complete]
    ids = [str(t.user_attrs[TrialAttr.TASK_ID]) for t in launched]
    label = "ours, plain agents" if plain else "ours (hpo search)"
    return Run(label, sleep_s, len(ids), workers, max(ends) - min(starts), ids, command_wall)


def run_stock(
    bench: Bench, sleep_s: float, trials: int, workers: int, pool: float | None, full_stop: bool, note: str = ""
) -> Run:
    """ClearML's ``OptimizerOptuna`` on ``workers`` agents of our own machinery (same as ``hpo search`` starts)."""
    label = "default" if pool is None else f"{pool:g}"
    queue = f"stock-{sleep_s:g}-{label}"
    home = bench.root / "home" / queue
    agents.start([queue], workers, env=bench.env, poll_s=AGENT_POLL_S, home=home, prefix=queue, zygote=False)
    try:
        started = time.time()
        template = bench.templates[sleep_s]
        stop = "stop" if full_stop else "exit"
        out = bench.python(STOCK, template, queue, str(trials), str(workers), label, stop, timeout=6 * 3600)
        command_wall = time.time() - started
    finally:
        agents.stop(home=home, timeout=10)
    name = f"stock OptimizerOptuna pool_period_min={'2 (default)' if pool is None else label}"
    if "stopped" in out:
        note = "; ".join(
            filter(None, [note, f"optimizer.stop() after wait() took {out['stopped'] - out['done']:.1f} s"])
        )
    return Run(name, sleep_s, len(out["ids"]), workers, out["done"] - out["start"], out["ids"], command_wall, note)


def read_marks(folder: Path, task_id: str) -> dict[str, float]:
    try:
        marks = dict(json.loads((folder / f"{task_id}.json").read_text()))
        marks["exit"] = float((folder / f"{task_id}.exit").read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in marks.items() if k != "id"}


COMPONENTS = (
    "controller: a trial ended -> next clone exists",
    "clone -> agent starts it (enqueue, agent poll)",
    "agent's `execute` child -> script's 1st line",
    "script: import clearml",
    "script: Task.init",
    "script: task.connect",
    "script: work beyond T (report_scalar)",
    "SDK shutdown (script end -> exit hooks done)",
    "script exit -> completed (agent notices)",
)


def breakdown(bench: Bench, run: Run) -> dict[str, list[float]]:
    """Per-trial durations of each component (seconds), from server timestamps and the template's marks."""
    run.tasks = [t for t in bench.tasks(run.ids) if t.get("status") == "completed"]
    created = {t["id"]: ts(t["created"]) for t in run.tasks}
    ended = sorted(ts(t["completed"]) for t in run.tasks)
    parts: dict[str, list[float]] = {name: [] for name in COMPONENTS}
    for task in run.tasks:
        m = read_marks(bench.marks, task["id"])
        started, completed = ts(task["started"]), ts(task["completed"])
        before = [e for e in ended if e <= created[task["id"]]]
        values = [
            created[task["id"]] - before[-1] if before else float("nan"),
            started - created[task["id"]],
        ]
        if m:
            values += [
                m["start"] - started,
                m["imported"] - m["start"],
                m["init"] - m["imported"],
                m["connected"] - m["init"],
                m["end"] - m["connected"] - run.sleep_s,
                m["exit"] - m["end"],
                completed - m["exit"],
            ]
        for name, value in zip(COMPONENTS, values, strict=False):
            parts[name].append(value)
    return parts


def worker_gaps(run: Run) -> list[float]:
    """Idle time of each worker between two trials: completed -> its next started."""
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for task in run.tasks:
        by_worker.setdefault(str(task.get("last_worker")), []).append((ts(task["started"]), ts(task["completed"])))
    gaps = []
    for spans in by_worker.values():
        spans.sort()
        gaps += [nxt[0] - prev[1] for prev, nxt in zip(spans, spans[1:], strict=False)]
    return gaps


def isolated(bench: Bench, repeats: int = 3) -> dict[str, list[float]]:
    """The SDK's costs outside any agent: interpreter, import clearml, shutdown with default vs fast config."""
    out: dict[str, list[float]] = {"python -c pass": [], "python -c 'import clearml'": []}
    for _ in range(repeats):
        for label, code in (("python -c pass", "pass"), ("python -c 'import clearml'", "import clearml")):
            started = time.time()
            subprocess.run([sys.executable, "-c", code], env=bench.env, check=True)
            out[label].append(time.time() - started)
    script = bench.root / "sleeper.py"
    script.write_text(textwrap.dedent(TEMPLATE))
    for conf, label in (
        ("default.conf", "report_use_subprocess: true (SDK default)"),
        ("clearml.conf", "false (ours)"),
    ):
        key = f"SDK shutdown, {label}"
        out[key] = []
        for i in range(repeats):
            folder = bench.root / "solo" / f"{conf}-{i}"
            folder.mkdir(parents=True)
            env = {**bench.env, "CLEARML_CONFIG_FILE": str(bench.root / conf), "HPO_BENCH_DIR": str(folder)}
            try:  # the SDK's reporting subprocess has been seen to hang its shutdown for minutes
                subprocess.run(
                    [sys.executable, str(script)], env=env, cwd=bench.root, check=True, capture_output=True, timeout=120
                )
            except subprocess.TimeoutExpired:
                out[key].append(120.0)
                continue
            ids = [p.stem for p in folder.glob("*.json")]
            marks = read_marks(folder, ids[0]) if ids else {}
            out[key].append(marks["exit"] - marks["end"] if marks else float("nan"))
    return out


def fmt(values: Sequence[float]) -> str:
    n = len([v for v in values if v == v])
    return f"{median(values):6.2f} ({p90(values):5.2f})" if n else "     n/a     "


def print_runs(runs: Sequence[Run], target: float) -> None:
    ours = next((r for r in runs if r.name.startswith("ours (")), None)
    floor = next((r for r in runs if r.name.startswith("floor")), None)
    print(
        f"{'variant':46s} {'trials':>6s} {'wall s':>8s} {'overhead s/trial':>17s} {'x ours':>7s} {'x floor':>8s}"
        f" {'command s':>10s}"
    )
    for run in runs:
        ratio = run.overhead / ours.overhead if ours and ours.overhead > 0 and run is not ours else float("nan")
        command = f"{run.command_wall:10.1f}" if run.command_wall is not None else f"{'-':>10s}"
        ratio_text = f"{ratio:7.1f}" if ratio == ratio else f"{'-':>7s}"
        vs_floor = f"{run.wall / floor.wall:8.1f}" if floor and floor.wall > 0 else f"{'-':>8s}"
        print(f"{run.name:46s} {run.trials:6d} {run.wall:8.1f} {run.overhead:17.2f} {ratio_text} {vs_floor} {command}")
        if run.note:
            print(f"    ^ {run.note}")
    stock_default = next((r for r in runs if "default" in r.name), None)
    if ours:
        verdict = "met" if ours.overhead < target else "NOT met"
        print(f"goal: ours under {target:g} s/trial: {verdict} ({ours.overhead:.2f} s)")
        if stock_default:
            ratio = stock_default.overhead / max(ours.overhead, 1e-9)
            print(f"goal: >= 10x lower than stock at its default: {'met' if ratio >= 10 else 'NOT met'} ({ratio:.1f}x)")


def print_breakdown(bench: Bench, runs: Sequence[Run]) -> None:
    agent_runs = [r for r in runs if r.ids]
    if not agent_runs:
        return
    parts = {r.name: breakdown(bench, r) for r in agent_runs}
    width = 50
    print(f"\nwhere a trial's time goes: median (p90) seconds; stock's agents poll every {AGENT_POLL_S:g} s")
    print(f"{'component':{width}s} " + " ".join(f"{r.name[:22]:>22s}" for r in agent_runs))
    for name in COMPONENTS:
        print(f"{name:{width}s} " + " ".join(f"{fmt(parts[r.name][name]):>22s}" for r in agent_runs))
    sums = [sum(median(parts[r.name][n]) for n in COMPONENTS if parts[r.name][n]) for r in agent_runs]
    print(f"{'sum of the medians':{width}s} " + " ".join(f"{s:13.2f}         " for s in sums))
    gaps = [fmt(worker_gaps(r)) for r in agent_runs]
    print(f"{'a worker idle between two trials':{width}s} " + " ".join(f"{g:>22s}" for g in gaps))
    print(f"{'measured overhead per trial (wall x W / n - T)':{width}s} " + " ".join(
        f"{r.overhead:13.2f}         " for r in agent_runs))  # fmt: skip


def print_init_profile(bench: Bench, top: int = 25) -> None:
    """The trials' ``Task.init`` profiles (``--profile-init``) added together, by cumulative time."""
    import pstats

    files = sorted(str(p) for p in bench.marks.glob("*.prof"))
    if not files:
        return
    print(f"\nTask.init in {len(files)} trials, cProfile added together (cumulative s):")
    pstats.Stats(*files, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def print_isolated(costs: Mapping[str, Sequence[float]]) -> None:
    print("\noutside any agent (fresh interpreters on this machine), median (p90) seconds:")
    for label, values in costs.items():
        print(f"  {label:58s} {fmt(values)}")


def cleanup(root: Path, server_dir: Path, keep: bool) -> None:
    homes = [root / "home", *(root / "home").glob("stock-*"), *(root / "home" / "searches").glob("*")]
    for home in homes:
        if home.is_dir():
            agents.stop(home=home, timeout=10)
    local_server.stop(server_dir)
    if keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)


def bench_one(bench: Bench, sleep_s: float, args: argparse.Namespace) -> list[Run]:
    key = bench.register(sleep_s)
    runs = [run_floor(sleep_s, args.trials, args.workers)]
    steps: list[Callable[[], Run]] = [lambda: run_ours(bench, key, sleep_s, args.trials, args.workers)]
    if args.plain:
        steps.append(lambda: run_ours(bench, key, sleep_s, args.trials, args.workers, plain=True))
    if not args.skip_stock:
        steps.append(lambda: run_stock(bench, sleep_s, args.trials, args.workers, 0.02, args.stock_full_stop))
    if not args.skip_stock_default and not args.skip_stock:
        n = args.stock_default_trials or args.trials
        note = (
            "" if n >= args.trials else f"CUT to {n} of {args.trials} trials (--stock-default-trials); not extrapolated"
        )
        steps.append(lambda: run_stock(bench, sleep_s, n, args.workers, None, args.stock_full_stop, note))
    for step in steps:
        runs.append(step())
        print(f"  done: {runs[-1].name}, {runs[-1].trials} trials in {runs[-1].wall:.1f} s", flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sleep", type=float, nargs="+", default=[1.0, 5.0], help="template's work T (s)")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stock-default-trials", type=int, default=None, help="cut the 2-minute-poll run")
    parser.add_argument("--skip-stock-default", action="store_true")
    parser.add_argument("--skip-stock", action="store_true", help="leave out both stock OptimizerOptuna runs")
    parser.add_argument("--skip-isolated", action="store_true", help="leave out the costs outside any agent")
    parser.add_argument("--plain", action="store_true", help="also run ours on plain agents (HPO_AGENT_ZYGOTE=0)")
    parser.add_argument(
        "--stock-full-stop",
        action="store_true",
        help="call the stock optimizer's stop() after wait() as its docs do (it then sleeps out its 5-minute"
        " report period); by default the driver exits right after wait()",
    )
    parser.add_argument("--target", type=float, default=1.0, help="per-trial overhead goal (s)")
    parser.add_argument(
        "--profile-init", action="store_true", help="profile each trial's Task.init (cProfile), print the sum"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, marks, server data)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hpo-overhead-bench-"))
    bench, server_dir = setup(root)
    if args.profile_init:
        bench.env["HPO_BENCH_PROFILE"] = "1"
    try:
        print(f"embedded server {bench.env['CLEARML_API_HOST']}; {args.workers} workers; {args.trials} trials")
        if not args.skip_isolated:
            print_isolated(isolated(bench))
        for sleep_s in args.sleep:
            print(f"\n=== T = {sleep_s:g} s ===", flush=True)
            runs = bench_one(bench, sleep_s, args)
            print_runs(runs, args.target)
            print_breakdown(bench, runs)
            if args.profile_init:
                print_init_profile(bench)
    finally:
        cleanup(root, server_dir, args.keep)


if __name__ == "__main__":
    main()
