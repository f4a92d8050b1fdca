"""What the search benchmarks share: a search run the way a user runs it, in a home of its own.

Each run is ``hpo search SPACE --json`` in a fresh ``HPO_HOME`` (its own embedded server, local
agents and study storage), timed from the outside. Reading its trials back happens in a
subprocess pointed at that home, so the runs' servers never meet in one SDK session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HPO = [sys.executable, "-m", "hpo.cli"]


@dataclass
class Run:
    """One finished search: its home, the ``--json`` summary and the wall time of the command."""

    home: Path
    summary: dict[str, Any]
    wall_s: float


def env_for(home: Path) -> dict[str, str]:
    """The environment of a command that uses the embedded server of ``home`` and nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML_")}
    return {**env, "HPO_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def search(home: Path, space: str, *args: str, timeout_s: float = 7200) -> Run:
    """``hpo search SPACE ARGS --json`` in ``home`` (created fresh); exits the benchmark when it fails."""
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"{home} is not empty: pass a new --workdir (a run needs a fresh HPO_HOME)")
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [*HPO, "search", space, *args, "--json"], env=env_for(home), capture_output=True, text=True, timeout=timeout_s
    )
    wall = time.perf_counter() - started
    (home / "search.stderr").write_text(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"hpo search {space} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return Run(home, json.loads(proc.stdout), wall)


def in_home(home: Path, code: str, *args: str) -> Any:
    """Run ``code`` (which prints one JSON line starting ``RESULT``) against the server of ``home``."""
    prelude = "from hpo.connection import connect\nconnect(None)\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"reading {home} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


TRIALS = """
import json, sys
import optuna
from clearml import Task
from hpo.study import TrialAttr, open_storage, trial_label
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=sys.argv[1], storage=open_storage(None))
rows = []
for trial in study.get_trials(deepcopy=False):
    task_id = trial.user_attrs.get(TrialAttr.TASK_ID)
    task = Task.get_task(task_id=task_id) if task_id else None
    metrics = task.get_last_scalar_metrics() if task else {}
    rows.append({
        "number": trial.number,
        "state": trial_label(trial),
        "value": trial.values[0] if trial.values else None,
        "params": dict(trial.params),
        "task_id": task_id,
        "steps": task.get_last_iteration() if task else 0,
        "test_accuracy": ((metrics.get("test") or {}).get("accuracy") or {}).get("last"),
        "pruned_at": max(trial.intermediate_values) if trial.intermediate_values else None,
    })
print("RESULT " + json.dumps(rows))
"""


def trials(run: Run) -> list[dict[str, Any]]:
    """Every trial of the run's study: state, value, params, task id, optimiser steps, test accuracy."""
    return list(in_home(run.home, TRIALS, str(run.summary["study"])))


def existing(home: Path, template: str) -> Run:
    """The newest search of ``template`` already run in ``home``, as a :class:`Run` (``wall_s``: its
    study's elapsed time, since the command's own was not measured here)."""
    code = """
    import json
    from hpo.search import list_studies
    print("RESULT " + json.dumps([s.as_dict() for s in list_studies(None)], default=str))
    """
    studies = [s for s in in_home(home, code) if s.get("template") == template and s.get("state") == "finished"]
    if not studies:
        raise SystemExit(f"{home} holds no finished {template} search; run it there first, or pick another home")
    return Run(home, studies[-1], float(studies[-1]["elapsed_s"]))


def stop_server(home: Path) -> None:
    subprocess.run([*HPO, "server", "stop"], env=env_for(home), capture_output=True, text=True, timeout=60)


__all__ = ["Run", "env_for", "existing", "in_home", "search", "stop_server", "trials"]
