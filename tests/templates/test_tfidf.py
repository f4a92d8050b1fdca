"""The TF-IDF base task: by hand, and as a clone of its template with overridden arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.templates import base_tasks_dir, contract_of
from tests.support.agents import AgentEnv
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.server import Env

pytestmark = pytest.mark.slow

INSPECT = """
import json, sys
import joblib
from clearml import Model, Task
task = Task.get_task(task_id=sys.argv[1])
[model] = task.models["output"]
pipeline = joblib.load(Model(model_id=model.id).get_local_copy())
plots = [p["metric"] for p in task.get_reported_plots()]
cv_folds = task.artifacts["cv_folds"].get()
print("RESULT " + json.dumps({
    "cv_folds": cv_folds,
    "status": task.get_status(),
    "metrics": task.get_last_scalar_metrics(),
    "plots": sorted(plots),
    "framework": model.framework,
    "url": model.url,
    "predicted": list(pipeline.predict(["the camera is great and I love it", "broken junk, returned it"])),
    "alpha": pipeline.named_steps["nb"].alpha,
    "ngram_range": list(pipeline.named_steps["tfidf"].ngram_range),
}))
"""


@pytest.fixture
def reviews(clearml: Env, tmp_path: Path) -> Env:
    """The review fixture registered under the demo dataset's name, which the base task reads by default."""
    result = add_reviews(clearml.vars, write_reviews(tmp_path / "reviews.csv", reviews=40))
    assert result.returncode == 0, result.stderr
    return clearml


def _run(env: dict[str, str], script: Path, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "validation: accuracy" in proc.stdout


def _inspect(clearml: Env, task_id: str) -> dict:
    info = clearml.run(INSPECT, task_id).result
    assert info["status"] == "completed"
    for title in ("validation", "test"):
        assert set(info["metrics"][title]) == {"accuracy", "macro_f1"}
    assert info["metrics"]["validation"]["accuracy"]["last"] > 0.8
    # What the script declares it reports (checked by `hpo search` before launch) is what it reported.
    reported = {f"{title}/{series}" for title, series in info["metrics"].items() for series in series}
    assert reported - {"Summary/train_rows"} == set(contract_of("tfidf").reports)
    # Grouped 5-fold CV over train+validation: means, standard errors, and per-fold scores that agree.
    cv, folds = info["metrics"]["cv"], info["cv_folds"]
    assert set(cv) == {"accuracy", "accuracy_se", "macro_f1", "macro_f1_se"}
    assert folds["k"] == 5 and len(folds["scores"]) == 5 and len(set(folds["signatures"])) == 5
    per_fold = [fold["accuracy"] for fold in folds["scores"]]
    assert abs(cv["accuracy"]["last"] - sum(per_fold) / 5) < 1e-9
    assert 0 < cv["accuracy_se"]["last"] < 0.5 and cv["accuracy"]["last"] > 0.7
    assert info["plots"] == ["cv folds", "test classification report", "validation classification report"]
    assert info["framework"] == "scikit-learn"
    assert info["url"].startswith(clearml.vars["CLEARML_FILES_HOST"])
    assert info["predicted"] == ["pos", "neg"]
    return info


def _task_id(clearml: Env, name: str) -> str:
    found = clearml.run(
        f"""
        import json
        from clearml import Task
        ids = Task.query_tasks(project_name="Amazon reviews", task_name="^{name}$")
        print("RESULT " + json.dumps(ids))
        """
    ).result
    assert len(found) == 1, found
    return str(found[0])


def test_tfidf_runs_by_hand(reviews: Env, tmp_path: Path) -> None:
    _run(reviews.vars, base_tasks_dir() / "tfidf.py", tmp_path)
    info = _inspect(reviews, _task_id(reviews, "TF-IDF Vectorize BernoulliNB"))
    assert info["alpha"] == 1.0 and info["ngram_range"] == [1, 1]


def _clone_as_script(reviews: Env, tmp_path: Path, name: str, params: dict) -> tuple[str, Path]:
    """A clone of the registered template with ``params``, and its stored code written where an agent would."""
    registered = hpo_cli(reviews.vars, "register", "tfidf", "--json")
    assert registered.returncode == 0, registered.stderr
    [template] = registered.json()
    clone = reviews.run(
        f"""
        import json
        from clearml import Task
        clone = Task.clone(source_task="{template["id"]}", name={name!r})
        clone.set_parameters({params!r})
        print("RESULT " + json.dumps({{"id": clone.id, "code": clone.export_task()["script"]["diff"]}}))
        """
    ).result
    script = tmp_path / "trial" / "tfidf.py"
    script.parent.mkdir()
    script.write_text(clone["code"])
    return clone["id"], script


def test_tfidf_clone_of_template_runs_with_overridden_args(reviews: Env, tmp_path: Path) -> None:
    task_id, script = _clone_as_script(reviews, tmp_path, "trial 1", {"General/alpha": 0.25, "General/ngram_max": 2})
    # Run the clone as an agent would, without one: its stored code, with CLEARML_TASK_ID set.
    _run({**reviews.vars, "CLEARML_TASK_ID": task_id}, script, script.parent)
    info = _inspect(reviews, task_id)
    assert info["alpha"] == 0.25 and info["ngram_range"] == [1, 2]
    assert os.path.basename(info["url"]) == "model.joblib"


def test_tfidf_rejects_more_folds_than_groups(reviews: Env, tmp_path: Path) -> None:
    task_id, script = _clone_as_script(reviews, tmp_path, "too many folds", {"General/cv_folds": 500})
    env = {**reviews.vars, "CLEARML_TASK_ID": task_id}
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=script.parent, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "cv_folds: 500 is not between 2 and the " in proc.stdout + proc.stderr
    assert "fix: set cv_folds to a value in 2.." in proc.stdout + proc.stderr


def test_tfidf_clone_runs_on_clearml_agent(agents: AgentEnv, tmp_path: Path) -> None:
    env = agents.env
    added = add_reviews(env.vars, write_reviews(tmp_path / "reviews.csv", reviews=40))
    assert added.returncode == 0, added.stderr
    registered = hpo_cli(env.vars, "register", "tfidf", "--json")
    assert registered.returncode == 0, registered.stderr
    [template] = registered.json()
    agents.start_agents("trials")
    out = agents.drive(
        f"""
        task = Task.clone(source_task="{template["id"]}", name="agent trial")
        task.set_parameters({{"General/alpha": 0.5, "General/ngram_max": 2}})
        Task.enqueue(task, queue_name="trials")
        wait(task, {{"completed", "failed", "stopped"}}, timeout=240)
        result(info(task))
        """
    )
    assert out["status"] == "completed", out["log"][-3000:]
    info = _inspect(env, out["id"])
    assert info["alpha"] == 0.5 and info["ngram_range"] == [1, 2]
