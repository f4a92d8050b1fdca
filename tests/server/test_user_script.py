"""A user's own ClearML script on the embedded default, with the SDK's default configuration.

The script is the seed's workflow in one file, run after ``eval "$(hpo server env)"`` from a shell
whose home holds the user's own ``clearml.conf`` (and no test configuration): with the SDK's
reporting subprocess it hung forever in ``task.flush`` (see ``hpo.connection.SDK_OVERRIDES``).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.connection import sdk_config_file
from hpo.server._query import project
from tests.support.server import Env

SCRIPT = """
import json
from pathlib import Path

import pandas as pd
from clearml import Dataset, OutputModel, Task

data = Path("data")
data.mkdir(exist_ok=True)
(data / "reviews.csv").write_text("text,label\\ngreat sound,1\\nbroke after a day,0\\nlove it,1\\n")
dataset = Dataset.create(dataset_name="reviews", dataset_project="User script")
dataset.add_files(str(data))
dataset.upload()
dataset.finalize()

task = Task.init(project_name="User script", task_name="train", output_uri=True)
args = {"lr": 0.25, "epochs": 3}
task.connect(args)
local = Dataset.get(dataset_project="User script", dataset_name="reviews").get_local_copy()
rows = len(pd.read_csv(Path(local) / "reviews.csv"))

Path("model.pkl").write_bytes(b"trained weights")
model = OutputModel(task=task, framework="scikit-learn", name="clf")
model.update_weights(weights_filename="model.pkl")
table = pd.DataFrame({"label": ["neg", "pos"], "count": [1, 2]})
task.get_logger().report_table("results", "per label", iteration=0, table_plot=table)
model.report_table(title="confusion", series="validation", iteration=0, table_plot=table)
for step in range(3):
    task.get_logger().report_scalar("validation", "accuracy", value=0.5 + step / 10, iteration=step)
task.upload_artifact("stats", artifact_object={"rows": rows})
task.upload_artifact("table", artifact_object=table)
task.flush(wait_for_uploads=True)
print("RESULT " + json.dumps({"dataset": dataset.id, "task": task.id, "model": model.id, "local": local}), flush=True)
task.mark_completed()
"""

READ = """
import json, sys
from clearml import Dataset, Model, Task
from clearml.backend_api.session.client import APIClient

dataset_id, task_id, model_id = sys.argv[1:4]
task = Task.get_task(task_id=task_id)
dataset = Dataset.get(dataset_id=dataset_id)
model = Model(model_id)
scalars = task.get_reported_scalars()["validation"]["accuracy"]
plots = APIClient().events.get_task_plots(task=task_id).plots
model_plots = APIClient().events.get_task_plots(task=model_id, model_events=True).plots
frame = task.artifacts["table"].get()
print("RESULT " + json.dumps({
    "status": task.get_status(),
    "args": {k: v for k, v in task.get_parameters().items() if k.startswith("General/")},
    "dataset_version": dataset.version,
    "dataset_files": dataset.list_files(),
    "model_weights": open(model.get_local_copy(), "rb").read().decode(),
    "model_task": model.task,
    "model_plots": [(p["metric"], p["variant"], "pos" in p["plot_str"]) for p in model_plots],
    "plots": [(p["metric"], p["variant"], "pos" in p["plot_str"]) for p in plots if p["metric"] == "results"],
    "scalars": [scalars["x"], scalars["y"]],
    "stats": task.artifacts["stats"].get(),
    "table": frame.to_dict(orient="list"),
}))
"""


def _shell_env(clearml: Env, home: Path) -> dict[str, str]:
    """What ``eval "$(hpo server env)"`` leaves in a shell whose ``$HOME`` is ``home``."""
    shell = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    shell.update(HOME=str(home), HPO_HOME=str(clearml.root / "hpo_home"), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    data_dir = str(clearml.server.data_dir)
    out = subprocess.run(
        [sys.executable, "-m", "hpo.cli", "server", "env", "--data-dir", data_dir],
        env=shell,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for line in out.splitlines():
        words = shlex.split(line)
        assert words[0] == "export", line
        key, _, value = words[1].partition("=")
        shell[key] = value
    return shell


def _run(script: Path, env: dict[str, str], *args: str, timeout: float) -> dict[str, object]:
    """Run ``script`` in its own session; on timeout kill the whole session (the SDK forks helpers)."""
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=script.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{script.name} did not finish within {timeout:.0f} s (hung):\n{output[-4000:]}")
    assert proc.returncode == 0, f"{script.name} failed ({proc.returncode}):\n{output[-4000:]}"
    results = [line[len("RESULT ") :] for line in output.splitlines() if line.startswith("RESULT ")]
    assert results, f"{script.name} printed no RESULT line:\n{output[-4000:]}"
    return dict(json.loads(results[-1]))


def test_user_script_with_sdk_defaults_finishes_and_reads_back(clearml: Env) -> None:
    home = clearml.root / "user"
    home.mkdir()
    cache = clearml.root / "user-cache"
    # A setting of the user's own: it must survive the generated configuration.
    (home / "clearml.conf").write_text(
        f"sdk {{ storage {{ cache {{ default_base_dir: {json.dumps(str(cache))} }} }} }}\n"
    )
    env = _shell_env(clearml, home)
    assert env["CLEARML_API_HOST"] == clearml.server.url
    work = clearml.root / "work"
    work.mkdir()
    (work / "train.py").write_text(SCRIPT)
    (work / "read.py").write_text(READ)

    wrote = _run(work / "train.py", env, timeout=240)
    assert Path(str(wrote["local"])).is_relative_to(cache)

    read = _run(work / "read.py", env, str(wrote["dataset"]), str(wrote["task"]), str(wrote["model"]), timeout=120)
    assert read["status"] == "completed"
    assert read["args"] == {"General/lr": "0.25", "General/epochs": "3"}
    assert read["dataset_version"] == "1.0.0"
    assert read["dataset_files"] == ["reviews.csv"]
    assert read["model_weights"] == "trained weights"
    assert read["model_task"] == wrote["task"]
    assert read["model_plots"] == [["confusion", "validation", True]]
    assert read["plots"] == [["results", "per label", True]]
    assert read["scalars"] == [[0, 1, 2], [0.5, 0.6, 0.7]]
    assert read["stats"] == {"rows": 3}
    assert read["table"] == {"label": ["neg", "pos"], "count": [1, 2]}


def _sdk_settings(config: Path, *keys: str) -> list[object]:
    """``keys`` of the SDK's ``sdk`` section as a program run with ``CLEARML_CONFIG_FILE=config`` sees them."""
    code = "import json, sys\nfrom clearml.config import config\n"
    code += "print(json.dumps([config.get(k, None) for k in sys.argv[1:]]))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env["CLEARML_CONFIG_FILE"] = str(config)
    out = subprocess.run([sys.executable, "-c", code, *keys], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.splitlines()[-1]))


def test_sdk_config_keeps_the_users_files_in_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "trains.conf").write_text("sdk { a: trains, b: trains }\n")
    (home / "clearml.conf").write_text("sdk { b: clearml, development { report_use_subprocess: true, c: 1 } }\n")
    config = sdk_config_file(tmp_path / "sdk", {"HOME": str(home)})
    assert _sdk_settings(config, "a", "b", "development.c", "development.report_use_subprocess") == [
        "trains",
        "clearml",
        1,
        False,
    ]


def test_sdk_config_follows_clearml_config_file_and_is_reused(tmp_path: Path) -> None:
    own = tmp_path / "own.conf"
    own.write_text("sdk { x: 7 }\n")
    folder = tmp_path / "sdk"
    config = sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(own), "HOME": str(tmp_path)})
    assert _sdk_settings(config, "x", "development.report_use_subprocess") == [7, False]
    # A shell that already ran `eval "$(hpo server env)"` gets the same file back, not one that includes itself.
    assert sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(config)}) == config
    assert sdk_config_file(folder, {"CLEARML_CONFIG_FILE": str(own), "HOME": str(tmp_path)}) == config
    assert [p.name for p in folder.iterdir()] == [config.name]


def test_sdk_config_without_user_files_only_sets_the_overrides(tmp_path: Path) -> None:
    config = sdk_config_file(tmp_path / "sdk", {"HOME": str(tmp_path)})
    assert "include" not in config.read_text()
    assert _sdk_settings(config, "development.report_use_subprocess") == [False]


@pytest.mark.parametrize(
    ("doc", "fields", "expected"),
    [
        # Dataset.create reads task.runtime.get("version") from such an answer: runtime must stay.
        ({"id": "t", "runtime": {}}, ["runtime.version"], {"id": "t", "runtime": {}}),
        (
            {"id": "t", "runtime": {"version": "1.0.0", "x": 1}},
            ["runtime.version"],
            {"id": "t", "runtime": {"version": "1.0.0"}},
        ),
        ({"id": "t"}, ["runtime.version"], {"id": "t"}),
        ({"id": "t", "runtime": "odd"}, ["runtime.version"], {"id": "t"}),
        ({"id": "t", "a": {"b": {"c": None}}}, ["a.b.c", "a.x"], {"id": "t", "a": {"b": {"c": None}}}),
    ],
)
def test_projection_keeps_objects_on_the_path_like_mongodb(doc: dict, fields: list[str], expected: dict) -> None:
    assert project(doc, fields) == expected
