"""Baselines a search must beat: each base task with its default arguments on the demo dataset.

Usage::

    python bench/baselines.py [tfidf] [bert] [--api-host URL] [--json]

Connects like the ``hpo`` CLI (option > env > clearml.conf > embedded server), registers the demo
dataset if needed (``hpo data demo``), runs the base task by hand as a subprocess and reads its
``test`` scalars back from the server. Test metrics are reported here only: nothing selects on them.
Not a test; numbers depend on the machine (training time) and on the data version. BERT needs the
``bert`` extra; its defaults are MiniLM-L6 (the packaged weights), 1 epoch, max length 64, and it uses
a GPU when there is one (say which device a timing came from when you quote it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hpo.connection import connect
from hpo.data import add_demo
from hpo.templates import base_tasks_dir


def _run_base_task(script: Path) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{script.name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    match = re.search(r"task id=([0-9a-f]{32})", proc.stdout + proc.stderr)
    if match is None:
        raise SystemExit(f"cannot find the task id in the output of {script.name}:\n{proc.stdout}")
    from clearml import Task

    metrics = Task.get_task(task_id=match.group(1)).get_last_scalar_metrics()
    return {
        "test_accuracy": metrics["test"]["accuracy"]["last"],
        "test_macro_f1": metrics["test"]["macro_f1"]["last"],
        "validation_accuracy": metrics["validation"]["accuracy"]["last"],
        "validation_macro_f1": metrics["validation"]["macro_f1"]["last"],
        "fit_seconds": metrics["timing"]["fit_seconds"]["last"],
        "wall_seconds": wall,
    }


def tfidf() -> dict[str, float]:
    """TF-IDF + BernoulliNB with the defaults of base_tasks/tfidf.py."""
    return _run_base_task(base_tasks_dir() / "tfidf.py")


def bert() -> dict[str, float]:
    """MiniLM-L6 fine-tuned with the defaults of base_tasks/bert.py (1 epoch, max length 64)."""
    return _run_base_task(base_tasks_dir() / "bert.py")


BASELINES: dict[str, Callable[[], dict[str, float]]] = {"tfidf": tfidf, "bert": bert}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", help=f"baselines to run: {', '.join(BASELINES)} [default: all]")
    parser.add_argument("--api-host", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    unknown = sorted(set(args.which) - set(BASELINES))
    if unknown:
        parser.error(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    which = args.which or list(BASELINES)
    conn = connect(args.api_host)
    dataset = add_demo()
    results = {name: BASELINES[name]() for name in which}
    if args.json:
        print(json.dumps({"server": conn.api_host, "dataset": dataset.id, "results": results}, indent=2))
        return
    print(f"demo dataset {dataset.name!r} {dataset.version} ({dataset.id}) on {conn.api_host}")
    for name, row in results.items():
        print(
            f"{name:8s} test accuracy {row['test_accuracy']:.4f}  test macro-F1 {row['test_macro_f1']:.4f}"
            f"  (validation accuracy {row['validation_accuracy']:.4f})"
            f"  fit {row['fit_seconds']:.2f} s, whole run {row['wall_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
