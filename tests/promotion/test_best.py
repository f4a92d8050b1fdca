"""The champion from code and from the command line, each in a fresh process: ``get_best_model``,
``hpo best`` and ``hpo predict``."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

import hpo
from hpo import promotion
from tests.support.promotion import World

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("promotion-world")]  # the session's trained trials, built once

DONE = TrialState.COMPLETE

API = """
import json
from hpo import get_best_model

model = get_best_model(template="tfidf", project="Amazon reviews")
pipeline = model.load()
predictions = model.predict(["the camera is great and I love it", "broken junk, returned it"])
print("RESULT " + json.dumps({
    "model_id": model.model_id, "task_id": model.task_id, "metrics": model.metrics, "params": model.params,
    "tags": model.tags, "path": str(model.local_path()), "pipeline": type(pipeline).__name__,
    "predictions": [[p.label, p.probabilities] for p in predictions], "web_url": model.web_url,
}))
"""

NONE_YET = """
from hpo import get_best_model
from hpo.errors import NotFoundError
try:
    get_best_model(template="tfidf", project="Amazon reviews")
except NotFoundError as err:
    print("RESULT " + __import__("json").dumps(str(err)))
"""


def test_exports_match_all() -> None:
    assert hpo.__all__ == ["__version__", "get_best_model"]
    for name in hpo.__all__:
        assert getattr(hpo, name) is not None
    for name in promotion.__all__:
        assert getattr(promotion, name) is not None


def test_no_champion_yet_names_the_command_that_makes_one(fresh: World) -> None:
    message = fresh.env.run(NONE_YET).result
    assert "no promoted model for template 'tfidf' in project 'Amazon reviews'" in message
    assert "hpo promote STUDY" in message and "hpo search tfidf" in message
    cli = fresh.cli("best", "tfidf")
    assert cli.returncode == 1 and "hpo promote STUDY" in cli.stderr


def test_get_best_model_and_cli_in_fresh_processes(fresh: World, tmp_path: Path) -> None:
    good = fresh.trials["good"]
    fresh.study("api", [("medium", fresh.trials["medium"].accuracy, DONE), ("good", good.accuracy, DONE)])
    assert fresh.promote("api").returncode == 0

    out = fresh.env.run(API).result
    assert (out["model_id"], out["task_id"]) == (good.model_id, good.task_id)
    assert out["metrics"]["validation/accuracy"] == good.accuracy and "test/macro_f1" in out["metrics"]
    assert out["params"] == {"General/alpha": pytest.approx(0.2)}
    assert sorted(out["tags"]) == ["best", "champion", "study:api"]
    assert out["pipeline"] == "Pipeline" and out["path"].endswith("model.joblib")
    [pos, neg] = out["predictions"]
    assert pos[0] == "pos" and neg[0] == "neg" and pos[1]["pos"] > 0.5 and sum(neg[1].values()) == pytest.approx(1)
    assert out["web_url"].endswith(f"/experiments/{good.task_id}") and "/projects/" in out["web_url"]

    shown = fresh.cli("best", "tfidf", "--json", "--download", str(tmp_path / "dl"))
    assert shown.returncode == 0, shown.stderr
    best = shown.json()
    assert best["model_id"] == good.model_id and best["objective_value"] == good.accuracy
    assert best["web_url"] == out["web_url"] and best["dataset"]["version"] == "1.0.0"
    assert Path(best["downloaded"]) == tmp_path / "dl" / "model.joblib" and Path(best["downloaded"]).stat().st_size

    texts = tmp_path / "texts.txt"
    texts.write_text("I love this speaker\n\nterrible, it stopped working\n")
    predicted = fresh.cli("predict", "tfidf", "great remote, recommend", "--file", str(texts), "--json")
    assert predicted.returncode == 0, predicted.stderr
    rows = predicted.json()["predictions"]
    assert [r["label"] for r in rows] == ["pos", "pos", "neg"]
    assert rows[0]["text"] == "great remote, recommend" and set(rows[0]["probabilities"]) == {"neg", "pos"}
    table = fresh.cli("predict", "the battery is awful")  # no template: the only champion
    assert table.returncode == 0 and "neg" in table.stdout and "the battery is awful" in table.stdout


def test_best_on_another_dataset_version_falls_back_to_its_best_model(fresh: World) -> None:
    acc = {n: t.accuracy for n, t in fresh.trials.items()}
    fresh.study("v1", [("good", acc["good"], DONE)])
    fresh.study("v2", [("v2", acc["v2"], DONE)])
    assert fresh.promote("v1").returncode == 0
    text = fresh.cli("promote", "v2", "--storage", fresh.storage)  # the human-readable report
    assert text.returncode == 0 and "challenger" in text.stdout and "dataset version 1.0.0" in text.stdout
    shown = fresh.cli("best", "tfidf", "--dataset-version", "2.0.0", "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.json()["model_id"] == fresh.trials["v2"].model_id and shown.json()["champion"] is False
    assert fresh.cli("best", "--json").json()["model_id"] == fresh.trials["good"].model_id
    table = fresh.cli("best")
    assert table.returncode == 0 and fresh.trials["good"].model_id in table.stdout and "champion" in table.stdout
    assert fresh.cli("best", "tfidf", "--dataset-version", "9.9.9").returncode == 1
