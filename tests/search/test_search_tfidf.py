"""``hpo search tfidf`` on the embedded default: nothing configured, everything started on demand; bad
spaces refused before launch; a second search promoted only through the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hpo import local_server
from hpo.agents import read_state
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.server import free_port, sdk_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_search_tfidf_on_the_embedded_default_then_a_gated_second_search(tmp_path: Path) -> None:
    home = tmp_path / "hpo_home"
    # The embedded server of $HPO_HOME, started on a free port (the default port may be taken by
    # another test); `hpo search` finds it running exactly as it would find one it started.
    server, _ = local_server.start(home / "server", port=free_port())
    try:
        env = {k: v for k, v in sdk_env(server, tmp_path).items() if not k.startswith("CLEARML_API")}
        env.pop("CLEARML_FILES_HOST", None)
        env.pop("CLEARML_WEB_HOST", None)
        added = add_reviews(env, write_reviews(tmp_path / "reviews.csv", reviews=40))
        assert added.returncode == 0, added.stderr
        # More CV folds than the data has reviews, an objective the template does not report, or a dataset
        # version that is not there (to count its reviews in) fail before launch: no trial, no study.
        for fixed, objective, problem in (
            ({"General/cv_folds": 500}, "accuracy", "fixed.General/cv_folds: 500 is above the "),
            ({}, "acc", "objective: template 'tfidf' does not report cv/acc; fix: pick one it reports:"),
            ({"General/dataset_version": "9.9.9"}, "accuracy", "version 9.9.9 in project 'Amazon reviews' is not on"),
        ):
            bad = tmp_path / "bad.yaml"
            bad.write_text(
                yaml.safe_dump(
                    {
                        "template": "tfidf",
                        "objective": {"title": "cv", "series": objective, "direction": "max"},
                        "fixed": fixed,
                        "parameters": {"General/alpha": {"type": "log-float", "low": 0.1, "high": 2.0}},
                    }
                )
            )
            refused = hpo_cli(env, "search", str(bad), "--json", timeout=200)
            assert refused.returncode == 1 and problem in " ".join(refused.stderr.split()), refused.stderr[-3000:]
        studies = hpo_cli(env, "studies", "--json")
        assert studies.returncode == 0 and json.loads(studies.stdout) == [], studies.stdout
        result = hpo_cli(env, "search", "tfidf", "--trials", "3", "--json", timeout=400)
        assert result.returncode == 0, result.stderr[-5000:]
        summary = json.loads(result.stdout)
        assert summary["state"] == "finished"
        assert summary["counts"]["completed"] == 3
        assert summary["queues"] == ["hpo-local"]
        assert summary["best"]["value"] > 0.5 and summary["best"]["task_id"]
        for row in summary["top"]:
            assert row["model_id"], "every completed tfidf trial saved its model"
        # the end of the search promoted the best trial's model to champion
        promotion = summary["promotion"]
        assert promotion["champion"] and promotion["task_id"] == summary["best"]["task_id"]
        best = hpo_cli(env, "best", "tfidf", "--json")
        assert best.returncode == 0, best.stderr[-3000:]
        champion = json.loads(best.stdout)
        assert champion["model_id"] == promotion["model_id"]
        # the shipped space optimises the template's grouped CV accuracy, not the small validation split
        assert [o["name"] for o in champion["objectives"]] == ["cv/accuracy"]
        assert champion["objective_value"] == champion["metrics"]["cv/accuracy"] == summary["best"]["value"]
        # the local agents are gone, the server stays up for `hpo status`
        agents_homes = list((home / "searches").glob("*"))
        assert agents_homes and all(not read_state(h) for h in agents_homes)
        status = hpo_cli(env, "status", "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["counts"]["completed"] == 3
        _second_search_goes_through_the_gate(env, promotion)
    finally:
        local_server.stop(home / "server")


def _second_search_goes_through_the_gate(env: dict[str, str], first: dict) -> None:
    """A second search's promotion is judged against the first's champion (its local agents are still up)."""
    assert first["champion"] is True and first["evidence"]["decision"] == "first"
    run = hpo_cli(env, "search", "tfidf", "--trials", "2", "--study", "second", "--json", timeout=500)
    assert run.returncode == 0, run.stderr[-5000:]
    second = json.loads(run.stdout)["promotion"]
    evidence = second["evidence"]
    # Same data, same folds: the champion's own task's folds, no re-run; the default gate.
    assert evidence["decision"] in ("promote", "keep") and evidence["rule"] == "corrected-t"
    assert evidence["champion"]["model_id"] == first["model_id"] and evidence["champion"]["source"] == "its task"
    assert len(evidence["champion"]["scores"]) == 5 and evidence["candidates"]
    assert second["champion"] is (evidence["decision"] == "promote")
    best = hpo_cli(env, "best", "tfidf", "--json")
    assert best.returncode == 0, best.stderr[-3000:]
    expected = second["model_id"] if second["champion"] else first["model_id"]
    assert json.loads(best.stdout)["model_id"] == expected
