"""A user's own script that sets no ``output_uri``, searched on ONE local agent (its code folder reused by
every trial): the champion's weights are its own, ``get_best_model`` serves it in a fresh process, a
candidate whose weights are a local file is refused, and replaced weights are detected on download."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow

# What a ClearML user writes: no output_uri, joblib.dump then OutputModel.update_weights of that file.
DIGITS = """
import joblib
from clearml import OutputModel, Task
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

task = Task.init(project_name="My research", task_name="digits svc")
args = task.connect({"C": 1.0, "gamma": 0.001})
X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
model = SVC(C=float(args["C"]), gamma=float(args["gamma"])).fit(X_train, y_train)
task.get_logger().report_scalar("validation", "accuracy", value=model.score(X_val, y_val), iteration=0)
joblib.dump(model, "model.pkl")
OutputModel(task=task).update_weights("model.pkl")
print("digits done")
"""

# A draft of the script tagged as template `digits`, as a user template is registered (no output_uri).
REGISTER = """
import json, sys
from clearml import Task
task = Task.create(project_name="My research", task_name="digits svc", script=sys.argv[1], add_task_init_call=False,
                   force_single_script_file=True, binary="python3", packages=["clearml", "scikit-learn"])
task.set_parameters({"General/C": 1.0, "General/gamma": 0.001})
task.add_tags(["hpo-template", "template:digits"])
print("RESULT " + json.dumps(task.id))
"""

# The champion from a fresh process: the unpickled object's parameters and its predictions.
CHAMPION = """
import json
from sklearn.datasets import load_digits
from hpo import get_best_model

model = get_best_model("digits", project="My research")
svc = model.load()
X, _ = load_digits(return_X_y=True)
predictions = model.predict(X[:100])
print("RESULT " + json.dumps({
    "model_id": model.model_id, "task_id": model.task_id, "url": model.url, "type": type(svc).__name__,
    "C": svc.get_params()["C"], "gamma": svc.get_params()["gamma"], "dataset": model.as_dict()["dataset"],
    "labels": [p.label for p in predictions], "probabilities": [p.probabilities for p in predictions],
}))
"""

# The output models' URLs of every trial (a clone of the template) of project "My research".
TRIAL_MODELS = """
import json
from clearml import Task
rows = Task.query_tasks(project_name="My research", additional_return_fields=["parent"])
trials = [Task.get_task(task_id=r["id"]) for r in rows if r.get("parent")]
print("RESULT " + json.dumps({t.id: [m.url for m in t.models["output"]] for t in trials}))
"""

# A script run by hand without output_uri: a local model file under the test's own clearml.conf (no default),
# the files server under the configuration `hpo server env` hands out.
LOCAL_RUN = """
import json, os, sys
from clearml import OutputModel, Task
task = Task.init(project_name="My research", task_name="digits by hand")
open("model.pkl", "wb").write(b"not shared")
model = OutputModel(task=task)
model.update_weights("model.pkl", auto_delete_file=False)
task.get_logger().report_scalar("validation", "accuracy", value=0.999, iteration=0)
task.flush(wait_for_uploads=True)
task.close()
print("RESULT " + json.dumps({"task_id": task.id, "model_id": model.id, "url": model.url}))
"""

# Replaces the bytes behind a model's URL in the store (as a later run writing the same path would).
REPLACE = """
import json, sys
from urllib.parse import unquote
from clearml import StorageManager
open("other.pkl", "wb").write(b"other weights")
StorageManager.upload_file("other.pkl", unquote(sys.argv[1]), wait_for_upload=True)  # uploads take the plain path
got = StorageManager.download_file(sys.argv[1], "replaced", overwrite=True)
print("RESULT " + json.dumps(open(got, "rb").read().decode()))
"""

LOAD = """
import json
from hpo import get_best_model
from hpo.errors import HPOError
try:
    get_best_model("digits", project="My research").load()
except HPOError as err:
    print("RESULT " + json.dumps(str(err)))
"""


def _space(ctx: SearchEnv) -> Path:
    doc: dict[str, Any] = {
        "template": "digits",
        "objective": {"title": "validation", "series": "accuracy", "direction": "max"},
        "trials": 4,
        "concurrency": 1,
        "sampler": {"name": "random", "seed": 3},
        "parameters": {
            "General/C": {"type": "log-float", "low": 0.01, "high": 100.0},
            "General/gamma": {"type": "log-float", "low": 0.0001, "high": 0.01},
        },
    }
    path = ctx.root / "digits.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _refit(params: dict[str, Any]) -> list[int]:
    """The champion's prediction re-derived here: its own parameters, fitted as the script fits."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    svc = SVC(C=float(params["General/C"]), gamma=float(params["General/gamma"])).fit(X_train, y_train)
    return [int(v) for v in svc.predict(X[:100])]


def _study(ctx: SearchEnv, name: str, trials: list[tuple[str, float]]) -> str:
    """A finished study of template ``digits`` whose trials point at ``trials`` (task id, accuracy)."""
    study = optuna.create_study(storage=ctx.open_storage(), study_name=name, direction="maximize")
    study.set_user_attr("template", "digits")
    study.set_user_attr("objectives", [["validation", "accuracy", "max"]])
    study.set_user_attr("state", "finished")
    for task_id, value in trials:
        study.add_trial(
            optuna.trial.create_trial(
                params={},
                distributions={},
                values=[value],
                user_attrs={"task_id": task_id, "state": "completed", "queue": "default"},
            )
        )
    return name


def _run_elsewhere(ctx: SearchEnv, script: str, home: Path, **env_vars: str) -> Any:
    """``script``'s RESULT in a fresh process with HOME ``home`` (another one: no cached downloads, as on
    another machine) and ``env_vars``."""
    path = ctx.root / "elsewhere.py"
    path.write_text(textwrap.dedent(script))
    env = {**ctx.env.vars, "HOME": str(home), **env_vars}
    proc = subprocess.run([sys.executable, str(path)], env=env, cwd=home, capture_output=True, text=True, timeout=180)
    lines = [line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout + proc.stderr
    return json.loads(lines[-1])


def test_user_script_champion_is_its_own_weights(search_env: SearchEnv) -> None:
    ctx = search_env
    script = ctx.root / "train_digits.py"
    script.write_text(textwrap.dedent(DIGITS))
    ctx.env.run(REGISTER, str(script))

    summary = ctx.search(_space(ctx), "--local-workers", "1", timeout=400)
    assert summary["counts"]["completed"] == 4, summary
    promotion = summary["promotion"]
    assert promotion is not None and promotion["champion"] is True, summary

    # Every trial's model went to the files server, each under its own task: none in the agent's folder.
    files = ctx.env.server.files_url
    urls = ctx.env.run(TRIAL_MODELS).result
    assert len(urls) == 4 and all(urls.values()), urls
    every = [url for task_urls in urls.values() for url in task_urls]
    assert all(url.startswith(files + "/") for url in every), urls
    for task_id, task_urls in urls.items():
        assert all(f".{task_id}/" in url for url in task_urls), urls  # each under its own task's folder

    out = ctx.env.run(CHAMPION).result
    assert (out["model_id"], out["task_id"]) == (promotion["model_id"], promotion["task_id"])
    assert out["type"] == "SVC" and out["dataset"] is None  # the script reads no dataset
    assert out["C"] == pytest.approx(promotion["params"]["General/C"])
    assert out["gamma"] == pytest.approx(promotion["params"]["General/gamma"])
    assert out["labels"] == _refit(promotion["params"])
    assert out["probabilities"] == [None] * 100  # an SVC without probability=True has no predict_proba

    shown = ctx.hpo("best", "digits", "--project", "My research")
    assert shown.returncode == 0, shown.stderr
    assert "dataset" not in shown.stdout and promotion["model_id"] in shown.stdout
    refused = ctx.hpo("predict", "digits", "some text", "--project", "My research")
    said = " ".join(refused.stderr.split())  # rich wraps long lines
    assert refused.returncode == 1 and "text templates (bert, tfidf)" in said and ".predict(X)" in said

    # A better-scored candidate whose weights are a local file is refused, named with the fix; the next one wins.
    local = ctx.env.run(LOCAL_RUN).result
    assert local["url"].startswith("file://"), local
    handed_out = ctx.env.server.env(ctx.env.vars)["CLEARML_CONFIG_FILE"]
    by_hand = _run_elsewhere(ctx, LOCAL_RUN, ctx.root, CLEARML_CONFIG_FILE=handed_out)
    assert by_hand["url"].startswith(f"{files}/My%20research/digits%20by%20hand.{by_hand['task_id']}/"), by_hand
    both = _study(ctx, "with-local", [(local["task_id"], 0.999), (promotion["task_id"], 0.5)])
    again = ctx.hpo("promote", both, "--storage", ctx.storage_url, "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["task_id"] == promotion["task_id"] and result["model_id"] == promotion["model_id"]
    [why] = [s for s in result["skipped"] if local["task_id"] in s]
    assert result["refused"] == [why]
    assert why.startswith(f"trial 0 (task {local['task_id']}): its weights are the local file ")
    assert "output_uri" in why and "hpo search --output-uri" in why
    shown = ctx.hpo("promote", both, "--storage", ctx.storage_url)
    assert shown.returncode == 0 and f"refused trial 0 (task {local['task_id']})" in " ".join(shown.stdout.split())
    alone = _study(ctx, "only-local", [(local["task_id"], 0.999)])
    none = ctx.hpo("promote", alone, "--storage", ctx.storage_url)
    said = " ".join(none.stderr.split())
    assert none.returncode == 1 and "no completed trial has weights of its own" in said
    assert f"task {local['task_id']}" in said

    # The champion's file replaced in the store: a machine without a cached copy refuses to load it.
    assert ctx.env.run(REPLACE, out["url"]).result == "other weights"
    other = ctx.root / "other-machine"
    other.mkdir()
    message = _run_elsewhere(ctx, LOAD, other)
    assert f"model {promotion['model_id']}" in message and "was recorded when it was promoted" in message
