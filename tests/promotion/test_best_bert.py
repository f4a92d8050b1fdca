"""The BERT champion from code and the command line: a tiny BERT trained by the real template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.support.bert import TINY_ARGS, build_tiny_bert
from tests.support.promotion import World, run_clone

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

CLONE = """
import json, sys
from clearml import Task
clone = Task.clone(source_task=sys.argv[1], name="trial bert")
clone.set_parameters(json.loads(sys.argv[2]))
print("RESULT " + json.dumps({"id": clone.id, "code": clone.export_task()["script"]["diff"]}))
"""

TRAINED = """
import json, sys
from clearml import Task
task = Task.get_task(task_id=sys.argv[1])
[model] = task.models["output"]
print("RESULT " + json.dumps({"model_id": model.id, "status": task.get_status(),
                              "accuracy": task.get_last_scalar_metrics()["validation"]["accuracy"]["last"]}))
"""

API = """
import json
from hpo import get_best_model

model = get_best_model(template="bert")
loaded, tokenizer = model.load()
predictions = model.predict(["the camera is great", "broken junk"])
print("RESULT " + json.dumps({"model_id": model.model_id, "class": type(loaded).__name__,
    "tokenizer": type(tokenizer).__name__, "path_is_dir": model.local_path().is_dir(),
    "predictions": [[p.label, p.probabilities] for p in predictions]}))
"""


@pytest.fixture(scope="module")
def bert_trial(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = build_tiny_bert(tmp_path_factory.mktemp("bert"), reviews=40)
    registered = world.cli("register", "bert", "--json")
    assert registered.returncode == 0, registered.stderr
    params = {f"General/{k}": v for k, v in {**TINY_ARGS, "epochs": 1, "model": str(folder)}.items()}
    clone = world.env.run(CLONE, registered.json()[0]["id"], json.dumps(params)).result
    run = run_clone(world.env, "bert", clone["id"], clone["code"])
    assert run.returncode == 0, run.stdout + run.stderr
    return {"task_id": clone["id"], **world.env.run(TRAINED, clone["id"]).result}


def test_bert_champion_from_code_and_cli(fresh: World, bert_trial: dict, tmp_path: Path) -> None:
    assert bert_trial["status"] == "completed"
    # The study of a BERT search: the trial's user attrs as the search writes them.
    import optuna

    study = optuna.create_study(storage=fresh.storage, study_name="bert-search", direction="maximize")
    study.set_user_attr("template", "bert")
    study.set_user_attr("objectives", [["validation", "accuracy", "max"]])
    study.add_trial(
        optuna.trial.create_trial(
            params={"General/learning_rate": 0.003},
            distributions={"General/learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True)},
            value=bert_trial["accuracy"],
            state=TrialState.COMPLETE,
            user_attrs={"task_id": bert_trial["task_id"], "model_id": bert_trial["model_id"], "state": "completed"},
        )
    )
    promoted = fresh.promote("bert-search")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.json()["champion"] is True and promoted.json()["template"] == "bert"

    out = fresh.env.run(API).result
    assert out["model_id"] == bert_trial["model_id"] and out["path_is_dir"] is True
    assert out["class"] == "BertForSequenceClassification" and out["tokenizer"].startswith("BertTokenizer")
    for label, probabilities in out["predictions"]:
        assert label in ("neg", "pos") and sum(probabilities.values()) == pytest.approx(1, abs=1e-5)

    predicted = fresh.cli("predict", "bert", "the router is solid", "--json")
    assert predicted.returncode == 0, predicted.stderr
    [row] = predicted.json()["predictions"]
    assert row["label"] in ("neg", "pos") and set(row["probabilities"]) == {"neg", "pos"}
    shown = fresh.cli("best", "bert", "--json", "--download", str(tmp_path / "dl"))
    assert shown.returncode == 0, shown.stderr
    assert (Path(shown.json()["downloaded"]) / "config.json").is_file()
