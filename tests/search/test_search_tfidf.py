"""``hpo search tfidf`` on the embedded default: nothing configured, everything started on demand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpo.agents import read_state
from hpo.server import _process
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.server import free_port, sdk_env

pytestmark = pytest.mark.slow


def test_search_tfidf_on_the_embedded_default(tmp_path: Path) -> None:
    home = tmp_path / "hpo_home"
    # The embedded server of $HPO_HOME, started on a free port (the default port may be taken by
    # another test); `hpo search` finds it running exactly as it would find one it started.
    server, _ = _process.start(home / "server", port=free_port())
    try:
        env = {k: v for k, v in sdk_env(server, tmp_path).items() if not k.startswith("CLEARML_API")}
        env.pop("CLEARML_FILES_HOST", None)
        env.pop("CLEARML_WEB_HOST", None)
        added = add_reviews(env, write_reviews(tmp_path / "reviews.csv", reviews=40))
        assert added.returncode == 0, added.stderr
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
    finally:
        _process.stop(home / "server")
