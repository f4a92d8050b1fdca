"""``hpo promote`` on the state searches leave: real TF-IDF trial tasks and models, and their studies."""

from __future__ import annotations

import json

import pytest
from optuna.trial import TrialState

from tests.support.promotion import World

pytestmark = pytest.mark.slow

DONE, PRUNED, FAIL = TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL


def _promote(world: World, study: str, *args: str) -> dict:
    result = world.promote(study, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.json()


def test_promote_picks_the_best_completed_trial_never_a_running_or_failed_one(fresh: World) -> None:
    acc = {name: trial.accuracy for name, trial in fresh.trials.items()}
    # Running and failed tasks scored as high as "good" and come first: a promotion that trusted
    # Optuna's states alone would pick trial 0.
    assert acc["running"] >= acc["good"] and acc["failed"] >= acc["good"] > acc["medium"] > acc["bad"]
    fresh.study(
        "pick",
        [
            ("running", acc["running"], DONE),
            ("failed", acc["failed"], DONE),
            ("good", 0.0, PRUNED),
            ("medium", 0.0, FAIL),
            ("good", acc["good"], DONE),
            ("bad", acc["bad"], DONE),
        ],
    )
    out = _promote(fresh, "pick")
    good = fresh.trials["good"]
    assert (out["model_id"], out["task_id"], out["trial"]) == (good.model_id, good.task_id, 4)
    assert out["champion"] is True and "no champion yet" in out["reason"]
    assert any(good.task_id not in s and "in_progress" in s for s in out["skipped"])
    assert any("failed" in s for s in out["skipped"])
    marks = fresh.marks()
    assert sorted(marks["good"]["tags"]) == ["best", "champion", "study:pick"]
    meta = marks["good"]["metadata"]
    assert meta["objective"] == "validation/accuracy" and float(meta["objective_value"]) == acc["good"]
    assert json.loads(meta["params"]) == {"General/alpha": pytest.approx(0.5)}
    assert (meta["dataset_name"], meta["dataset_version"]) == ("Amazon reviews dataset", "1.0.0")
    assert (meta["template"], meta["study"], meta["task_id"]) == ("tfidf", "pick", good.task_id)
    for name in ("running", "failed", "medium", "bad"):
        assert marks[name]["tags"] == [], name


def test_champion_rule_across_searches(fresh: World) -> None:
    acc = {name: trial.accuracy for name, trial in fresh.trials.items()}
    fresh.study("first", [("medium", acc["medium"], DONE), ("bad", acc["bad"], DONE)])
    fresh.study("worse", [("bad", acc["bad"], DONE)])
    fresh.study("better", [("good", acc["good"], DONE)])
    fresh.study("newdata", [("v2", acc["v2"], DONE)])

    assert _promote(fresh, "first")["champion"] is True
    worse = _promote(fresh, "worse")
    assert worse["champion"] is False and "does not beat champion" in worse["reason"]
    assert fresh.champions() == ["medium"]

    better = _promote(fresh, "better")
    assert better["champion"] is True and better["previous_champion"] == fresh.trials["medium"].model_id
    marks = fresh.marks()
    assert sorted(marks["medium"]["tags"]) == ["best", "study:first"]  # lost only `champion`
    assert sorted(marks["bad"]["tags"]) == ["best", "study:worse"]
    assert fresh.champions() == ["good"]

    # A better score on another dataset version does not compare: a challenger, until forced.
    other = _promote(fresh, "newdata")
    assert other["champion"] is False and "dataset version 1.0.0, this model on 2.0.0" in other["reason"]
    assert fresh.champions() == ["good"]
    forced = _promote(fresh, "newdata", "--force", "--publish")
    assert forced["champion"] is True and forced["published"] == fresh.trials["v2"].model_id
    marks = fresh.marks()
    assert fresh.champions() == ["v2"] and marks["v2"]["published"] is True
    assert sorted(marks["good"]["tags"]) == ["best", "study:better"]


def test_promote_explains_a_study_without_completed_tasks(fresh: World) -> None:
    fresh.study("unfinished", [("running", 0.99, DONE), ("failed", 0.98, DONE)])
    result = fresh.promote("unfinished")
    assert result.returncode == 1
    assert "no completed trial whose ClearML task completed" in result.stderr and "in_progress" in result.stderr
    missing = fresh.promote("no-such-study")
    assert missing.returncode == 1 and "no study 'no-such-study'" in missing.stderr
    assert fresh.champions() == []


RACE = """
import json, sys, time
from hpo.connection import connect
from hpo.promotion import promote_study

study, storage, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
connect()
from clearml import Model
Model.query_models(tags=["champion"])  # log in before the start line
while time.time() < start_at:
    time.sleep(0.002)
result = promote_study(study, storage=storage)
print("RESULT " + json.dumps({"champion": result.champion, "reason": result.reason}))
"""


def test_racing_promotions_leave_exactly_one_champion(fresh: World) -> None:
    import subprocess
    import sys
    import time

    acc = {name: trial.accuracy for name, trial in fresh.trials.items()}
    names = [fresh.study(f"race-{n}", [(n, acc[n], DONE)]) for n in ("medium", "good", "bad")]
    script = fresh.env.root / "race.py"
    script.write_text(RACE)
    start_at = time.time() + 8
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), name, fresh.storage, str(start_at)],
            env=fresh.env.vars,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
    # Whatever the order, the best of the three ends up the one champion; the others keep `best`.
    assert fresh.champions() == ["good"]
    marks = fresh.marks()
    for name in ("medium", "bad"):
        assert sorted(marks[name]["tags"]) == ["best", f"study:race-{name}"]
