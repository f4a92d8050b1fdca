"""Promotion test helpers: a server holding what a finished search leaves (real TF-IDF trials with models).

The trial tasks are clones of the registered ``tfidf`` template run through the real SDK on the
review fixture (as an agent would run them: the clone's stored code with ``CLEARML_TASK_ID``).
They are trained once per test session; each test then writes its own Optuna studies pointing at them
(a study is the search's memory; promotion only reads it and ClearML) and starts from models
without promotion tags.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from tests.support.data import CLIResult, hpo_cli
from tests.support.server import Env

# Trials of the TF-IDF template: name -> (dataset version, overridden General arguments). The
# arguments grade validation accuracy: "good" is the template's default, "medium" keeps six
# features, "bad" binarizes every TF-IDF weight to 0 (the prior alone decides). On the grouped
# 5-fold CV (every trial reports it) "medium" loses to "good" clearly, on every fold; "close"
# beats "good" barely: by one fold, equal on the others. "v2-poor" is "medium"'s configuration on
# the other dataset version: a champion whose folds differ from the 1.0.0 trials'.
TRIALS: dict[str, tuple[str, dict[str, Any]]] = {
    "good": ("1.0.0", {}),
    "medium": ("1.0.0", {"max_features": 6}),
    "bad": ("1.0.0", {"binarize": 5.0}),
    "running": ("1.0.0", {"alpha": 0.5}),
    "failed": ("1.0.0", {"alpha": 0.2}),
    "v2": ("2.0.0", {}),
    "close": ("1.0.0", {"alpha": 0.9}),
    "v2-poor": ("2.0.0", {"max_features": 6}),
}

CV = (("cv", "accuracy", "max"),)  # the objective of a study that the gate can judge

CLONE = """
import json, sys
from clearml import Task
template, trials = sys.argv[1], json.loads(sys.argv[2])
out = {}
for name, (version, params) in trials.items():
    clone = Task.clone(source_task=template, name=f"trial {name}")
    clone.set_parameters({"General/dataset_version": version, **{f"General/{k}": v for k, v in params.items()}})
    out[name] = {"id": clone.id, "code": clone.export_task()["script"]["diff"]}
print("RESULT " + json.dumps(out))
"""

# The trained "running" and "failed" trials are put in those states afterwards, as a search that
# is still going, or whose trial crashed after saving its model, leaves them.
FINISH = """
import json, sys
from clearml import Task
ids = json.loads(sys.argv[1])
out = {}
for name, task_id in ids.items():
    task = Task.get_task(task_id=task_id)
    if name == "running":
        task.mark_started(force=True)
    elif name == "failed":
        task.mark_failed(force=True)
    task.reload()
    [model] = task.models["output"]
    metrics = task.get_last_scalar_metrics()
    folds = task.artifacts["cv_folds"].get()
    out[name] = {"task_id": task_id, "model_id": model.id, "status": task.get_status(),
                 "accuracy": metrics["validation"]["accuracy"]["last"], "cv": metrics["cv"]["accuracy"]["last"],
                 "folds": [fold["accuracy"] for fold in folds["scores"]]}
print("RESULT " + json.dumps(out))
"""

# Strips the promotion marks (tags and metadata; a publication cannot be undone, so only the last
# test step that needs one publishes) and deletes champion re-runs.
RESET = """
from clearml import Model
from clearml.backend_api.session.client import APIClient
client = APIClient()
for model_id in [m.id for m in Model.query_models()]:
    tags = client.models.get_by_id(model=model_id).tags or []
    # models.update: the SDK's Model.tags setter cannot clear a tag list.
    client.models.update(model=model_id, tags=[t for t in tags if t not in ("best", "champion")
                                               and not t.startswith("study:")])
    Model(model_id=model_id).set_all_metadata({}, replace=True)
# Champion re-runs (and their models) of earlier tests: a later promotion would reuse them.
from clearml import Task
for task_id in Task.query_tasks(tags=["hpo-champion-rerun"], task_filter={"search_hidden": True}):
    Task.get_task(task_id=task_id).delete(raise_on_error=True)
print("RESULT 0")
"""

# Tasks tagged as champion re-runs: id, status and tags.
RERUNS = """
import json
from clearml import Task
rows = Task.query_tasks(tags=["hpo-champion-rerun"], task_filter={"search_hidden": True},
                        additional_return_fields=["status", "tags"])
print("RESULT " + json.dumps([{"id": r["id"], "status": getattr(r["status"], "value", r["status"]),
                                "tags": r["tags"]} for r in rows]))
"""

# Every model's tags and metadata, by id.
MARKS = """
import json
from clearml import Model
out = {}
for model in Model.query_models():
    meta = {k: v.get("value") for k, v in (model.get_all_metadata() or {}).items()}
    out[model.id] = {"tags": list(model.tags or []), "metadata": meta, "published": bool(model.published)}
print("RESULT " + json.dumps(out))
"""


@dataclass(frozen=True)
class Trial:
    name: str
    task_id: str
    model_id: str
    status: str
    accuracy: float
    version: str
    cv: float  # cv/accuracy: the mean of folds
    folds: list[float]  # per-fold accuracy (the cv_folds artifact)


@dataclass
class World:
    """The module's server and its trained trials."""

    env: Env
    trials: dict[str, Trial]
    storage: str
    studies: list[str] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 180) -> CLIResult:
        return hpo_cli(self.env.vars, *args, cwd=self.env.root, timeout=timeout)

    def study(
        self,
        name: str,
        trials: list[tuple[str, float | list[float], optuna.trial.TrialState]],
        objectives: Sequence[tuple[str, str, str]] = (("validation", "accuracy", "max"),),
        queues: Sequence[str] = (),
    ) -> str:
        """Write study ``name`` as a finished search leaves it: trials point at the world's tasks."""
        storage = optuna.storages.RDBStorage(self.storage)
        directions = ["maximize" if o[2] == "max" else "minimize" for o in objectives]
        study = optuna.create_study(storage=storage, study_name=name, directions=directions)
        study.set_user_attr("template", "tfidf")
        study.set_user_attr("objectives", [list(o) for o in objectives])
        study.set_user_attr("state", "finished")
        if queues:
            study.set_user_attr("queues", list(queues))
        for number, (trial_name, value, state) in enumerate(trials):
            trial = self.trials[trial_name]
            values = value if isinstance(value, list) else [value]
            attrs = {
                "task_id": trial.task_id,
                "queue": "hpo-local",
                "model_id": trial.model_id,
                "state": {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}[
                    state.name
                ],
            }
            frozen = optuna.trial.create_trial(
                params={"General/alpha": 0.1 * (number + 1)},
                distributions={"General/alpha": optuna.distributions.FloatDistribution(0.01, 2.0)},
                values=values if state == optuna.trial.TrialState.COMPLETE else None,
                state=state,
                user_attrs=attrs,
            )
            study.add_trial(frozen)
        return name

    def marks(self) -> dict[str, dict[str, Any]]:
        """Tags, metadata and published flag of every model, by trial name (other models by id)."""
        by_id = self.env.run(MARKS).result
        names = {t.model_id: n for n, t in self.trials.items()}
        return {names.get(model_id, model_id): marks for model_id, marks in by_id.items()}

    def champions(self) -> list[str]:
        return sorted(name for name, marks in self.marks().items() if "champion" in marks["tags"])

    def promote(self, study: str, *args: str) -> CLIResult:
        return self.cli("promote", study, "--storage", self.storage, "--json", *args)

    def reset(self) -> None:
        self.env.run(RESET)

    def reruns(self) -> list[dict[str, Any]]:
        return list(self.env.run(RERUNS).result)


def run_clone(env: Env, name: str, task_id: str, code: str) -> subprocess.CompletedProcess[str]:
    script = env.root / "trials" / name / "tfidf.py"
    script.parent.mkdir(parents=True)
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)],
        env={**env.vars, "CLEARML_TASK_ID": task_id},
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


def check(result: CLIResult) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def dedent(script: str) -> str:
    return textwrap.dedent(script)


__all__ = ["CLONE", "CV", "FINISH", "TRIALS", "Trial", "World", "check", "dedent", "run_clone"]
