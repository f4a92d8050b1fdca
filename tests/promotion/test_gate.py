"""The promotion gate end to end: real TF-IDF trials' per-fold scores, the champion's re-run by a real agent."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from hpo.promotion._evidence import Gate, compare, differences
from tests.support.agents import AgentEnv
from tests.support.promotion import CV, World

# The world (trained trials) is built in the first test of a session; the re-run waits for an agent.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("promotion-world")]

DONE = TrialState.COMPLETE


def _promote(world: World, study: str, *args: str) -> dict:
    result = world.promote(study, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.json()


def _cv_study(world: World, name: str, *trials: str, queues: tuple[str, ...] = ()) -> str:
    return world.study(name, [(t, world.trials[t].cv, DONE) for t in trials], objectives=CV, queues=queues)


def test_gate_promotes_a_clear_improvement_and_records_its_evidence(fresh: World) -> None:
    good, medium = fresh.trials["good"], fresh.trials["medium"]
    assert all(g > m for g, m in zip(good.folds, medium.folds, strict=True))  # better on every fold
    first = _promote(fresh, _cv_study(fresh, "g-medium", "medium"))
    assert first["champion"] is True and first["evidence"]["decision"] == "first"

    out = _promote(fresh, _cv_study(fresh, "g-good", "good", "bad"))
    assert out["champion"] is True and out["model_id"] == good.model_id
    assert out["previous_champion"] == medium.model_id and "beats champion" in out["reason"]
    assert "on the same folds" in out["reason"] and "(corrected-t, 97.5%, 5 folds)" in out["reason"]
    evidence = out["evidence"]
    assert evidence["decision"] == "promote" and evidence["metric"] == "cv/accuracy" and evidence["folds"] == 5
    assert evidence["rule"] == "corrected-t" and evidence["gate"] == {
        "rule": "auto",
        "confidence": 0.95,
        "min_improvement": 0.0,
        "top_k": 3,
        "resamples": 10000,
        "seed": 0,
    }
    assert evidence["champion"]["scores"] == medium.folds and evidence["champion"]["source"] == "its task"
    [mine, bad] = evidence["candidates"]
    assert (mine["trial"], bad["trial"]) == (0, 1) and mine["passed"] and not bad["passed"]
    assert mine["scores"] == good.folds and mine["differences"] == pytest.approx(
        [g - m for g, m in zip(good.folds, medium.folds, strict=True)]
    )
    # Reproducible: the pure module, given the recorded folds, draws the same interval (seeded).
    again = compare(differences(good.folds, medium.folds, "max"), Gate(), candidates=2)
    assert (mine["low"], mine["high"], mine["confidence"]) == (again.low, again.high, again.confidence)
    assert 0 < mine["low"] <= mine["improvement"] == pytest.approx(good.cv - medium.cv)
    assert fresh.champions() == ["good"]

    # The evidence is the model's metadata, and `hpo best` shows it.
    shown = fresh.cli("best", "tfidf", "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.json()["evidence"] == evidence
    table = fresh.cli("best", "tfidf")
    assert "promote (corrected-t)" in table.stdout and "per fold" in table.stdout


def test_gate_keeps_the_champion_against_a_barely_better_mean(fresh: World) -> None:
    good, close = fresh.trials["good"], fresh.trials["close"]
    diffs = [c - g for c, g in zip(close.folds, good.folds, strict=True)]
    assert close.cv > good.cv and sum(d > 0 for d in diffs) == 1 and min(diffs) == 0  # one fold better
    _promote(fresh, _cv_study(fresh, "k-good", "good"))
    _cv_study(fresh, "k-close", "close")

    for rule in ("bootstrap", "t-test"):
        out = _promote(fresh, "k-close", "--gate", rule)
        assert out["champion"] is False and out["model_id"] == close.model_id
        assert "stays a challenger: no candidate surely beats champion" in out["reason"] and rule in out["reason"]
        [entry] = out["evidence"]["candidates"]
        assert out["evidence"]["decision"] == "keep" and entry["low"] <= 0 < entry["improvement"]
        assert fresh.champions() == ["good"]
    # A minimum improvement above the gain keeps it too; the mean values alone would crown it.
    assert _promote(fresh, "k-close", "--gate", "t-test", "--min-improvement", "0.05")["champion"] is False
    marks = fresh.marks()
    assert "stays a challenger" in marks["close"]["metadata"]["evidence"]

    forced = _promote(fresh, "k-close", "--force")
    assert forced["champion"] is True and "the gate was skipped" in forced["reason"]
    assert forced["evidence"]["decision"] == "forced" and fresh.champions() == ["close"]


def test_gate_falls_back_to_the_mean_rule_without_per_fold_evidence(fresh: World) -> None:
    acc = {n: t.accuracy for n, t in fresh.trials.items()}
    fresh.study("f-medium", [("medium", acc["medium"], DONE)])  # validation/accuracy: no folds
    fresh.study("f-good", [("good", acc["good"], DONE)])
    _promote(fresh, "f-medium")
    out = _promote(fresh, "f-good")
    assert out["champion"] is True and "beats champion" in out["reason"]
    assert "no per-fold evidence: objective validation/accuracy is not a cross-validated mean" in out["reason"]
    assert out["evidence"]["decision"] == "fallback" and out["evidence"]["candidates"] == []
    bad = fresh.promote("f-good", "--gate", "vote")
    assert bad.returncode == 1 and "--gate: 'vote' is not a gate rule" in bad.stderr


def test_champion_on_other_folds_is_rerun_by_an_agent_and_never_left_queued(fresh: World) -> None:
    queue = "gate-rerun"
    poor, good, medium = fresh.trials["v2-poor"], fresh.trials["good"], fresh.trials["medium"]
    assert _promote(fresh, _cv_study(fresh, "r-v2", "v2-poor", queues=(queue,)))["champion"] is True
    _cv_study(fresh, "r-v1", "good", queues=(queue,))

    # The queue does not exist yet: said, and nothing is left behind.
    missing = _promote(fresh, "r-v1", "--rerun-timeout", "3")
    assert missing["champion"] is False and f"cannot be enqueued on {queue!r}" in missing["reason"]
    assert fresh.reruns() == []

    fresh.env.run(
        f"from clearml.backend_api.session.client import APIClient; APIClient().queues.create(name={queue!r})"
    )
    idle = _promote(fresh, "r-v1", "--rerun-timeout", "3")
    assert idle["champion"] is False and fresh.champions() == ["v2-poor"]
    assert (
        "dataset version 2.0.0" in idle["reason"]
        and f"no agent took the champion's re-run from queue {queue!r}" in idle["reason"]
    )
    assert fresh.reruns() == []  # dequeued and deleted

    agents = AgentEnv(fresh.env)
    try:
        agents.start_agents(queue)
        out = _promote(fresh, "r-v1")
    finally:
        agents.hpo("agent", "stop", "--timeout", "5", check=False)
    assert out["champion"] is True and out["previous_champion"] == poor.model_id, out["reason"]
    champion = out["evidence"]["champion"]
    # medium is v2-poor's configuration on 1.0.0: the re-run scores exactly its folds.
    assert champion["source"] == "a re-run on the candidates' folds" and champion["scores"] == medium.folds
    [rerun] = fresh.reruns()
    assert rerun["id"] == champion["rerun_task_id"] and rerun["status"] == "completed"
    assert f"rerun-of:{poor.model_id}" in rerun["tags"]
    assert out["evidence"]["candidates"][0]["scores"] == good.folds and fresh.champions() == ["good"]
