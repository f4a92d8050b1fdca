"""Pruning that pays: one search budget with and without the pruner, with the same sampler seed.

Usage::

    python bench/pruning.py [SPACE] [--trials N] [--workdir DIR] [--json]

Runs ``hpo search SPACE`` (default ``bert-quick``) twice as a user would, each in a fresh
``HPO_HOME`` under ``--workdir`` (its own embedded server and local agents): first as the space
says, pruner on, then with ``--pruner none``. Both start from the space's sampler seed and its
``initial`` configurations; once a trial is pruned in one run, the sampler sees different results
and the two runs' later proposals differ (that is what pruning buys or costs). For each run it
prints the trials completed and pruned, the optimiser steps trained (the sum over trials of the last
iteration each task reported: a pruned trial counts the steps it ran before it was stopped), the
wall time of the whole command and the best objective. The goal of issue 13: at least 40% fewer
steps for a best within 0.5 points (0.005 of an accuracy). The homes stay, for
``HPO_HOME=DIR/pruned hpo best``/``hpo predict`` and ``bench/search_quality.py --bert-home``; a
home that already holds a finished search of the space is read, not rerun (so one arm can be
rerun alone after a change to the pruner: move its home away). The time compared is each
study's elapsed time (first launch to end); the command's wall time, which adds the server, data
and agents start, is printed too where this run measured it.

Not a test: the numbers depend on the machine; with BERT on 2 CPU cores it takes about half an hour.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import Run, existing, search, stop_server, trials  # noqa: E402

from hpo.search._space import load_space  # noqa: E402

GOAL_FEWER = 0.40  # at least this share of steps saved
GOAL_POINTS = 0.5  # for a best within this many points (percentage points of the objective)


def _arm(home: Path, space: str, extra: list[str]) -> dict[str, Any]:
    reused = (home / "studies.db").exists()  # a home where this arm ran already: read, not rerun
    run: Run = existing(home, load_space(space).template) if reused else search(home, space, *extra)
    try:
        rows = trials(run)
    finally:
        stop_server(home)
    counts = run.summary["counts"]
    return {
        "home": str(home),
        "study": run.summary["study"],
        "reused": reused,
        "wall_s": round(run.wall_s, 1),
        "elapsed_s": run.summary["elapsed_s"],
        "trials": len(rows),
        "completed": counts.get("completed", 0),
        "pruned": counts.get("pruned", 0),
        "failed": counts.get("failed", 0),
        "steps": sum(int(r["steps"] or 0) for r in rows),
        "best": run.summary["best"]["value"],
        "best_trial": run.summary["best"]["trial"],
        "promoted": bool((run.summary.get("promotion") or {}).get("champion")),
        "per_trial": [{k: r[k] for k in ("number", "state", "value", "steps", "pruned_at")} for r in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space", nargs="?", default="bert-quick")
    parser.add_argument("--trials", type=int, default=None, help="the budget of both runs (default: the space's)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the two homes go (default: a new tmp dir)")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hpo-pruning-"))
    budget = ["--trials", str(options.trials)] if options.trials else []
    pruned = _arm(workdir / "pruned", options.space, budget)
    unpruned = _arm(workdir / "unpruned", options.space, [*budget, "--pruner", "none"])
    fewer = 1 - pruned["steps"] / unpruned["steps"] if unpruned["steps"] else 0.0
    points = 100 * (unpruned["best"] - pruned["best"])  # how much best the pruned search gave up
    result = {
        "space": options.space,
        "pruned": pruned,
        "unpruned": unpruned,
        "fewer_steps": round(fewer, 3),
        "time_ratio": round(pruned["elapsed_s"] / unpruned["elapsed_s"], 3),
        "best_given_up_points": round(points, 2),
        "goal_met": fewer >= GOAL_FEWER and points <= GOAL_POINTS,
    }
    if options.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'run':<10} {'trials':>6} {'done':>5} {'pruned':>6} {'steps':>7} {'search s':>9} {'wall s':>8} {'best':>7}")
    for name, arm in (("pruned", pruned), ("unpruned", unpruned)):
        wall = "-" if arm["reused"] else f"{arm['wall_s']:.1f}"
        print(
            f"{name:<10} {arm['trials']:>6} {arm['completed']:>5} {arm['pruned']:>6} {arm['steps']:>7}"
            f" {arm['elapsed_s']:>9.1f} {wall:>8} {arm['best']:>7.4f}"
        )
    print(
        f"pruning trained {fewer:.0%} fewer steps in {result['time_ratio']:.2f}x the search time, and its best is"
        f" {points:+.2f} points below the unpruned best (goal: >= {GOAL_FEWER:.0%} fewer, <= {GOAL_POINTS} points):"
        f" {'met' if result['goal_met'] else 'NOT met'}"
    )
    print(f"homes: {workdir}/pruned, {workdir}/unpruned")


if __name__ == "__main__":
    main()
