"""``hpo search`` ends with the gated promotion: a second search is judged against the first's champion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpo.server import _process
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.server import free_port, sdk_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_second_search_is_promoted_only_through_the_gate(tmp_path: Path) -> None:
    home = tmp_path / "hpo_home"
    # The embedded server of $HPO_HOME (as in tests/search/test_search_tfidf.py): the embedded default
    # mode, where the search starts local agents, which are still up when it promotes.
    server, _ = _process.start(home / "server", port=free_port())
    try:
        env = {k: v for k, v in sdk_env(server, tmp_path).items() if not k.startswith("CLEARML_API")}
        env.pop("CLEARML_FILES_HOST", None)
        env.pop("CLEARML_WEB_HOST", None)
        assert add_reviews(env, write_reviews(tmp_path / "reviews.csv", reviews=40)).returncode == 0
        searches = []
        for name in ("first", "second"):
            run = hpo_cli(env, "search", "tfidf", "--trials", "2", "--study", name, "--json", timeout=500)
            assert run.returncode == 0, run.stderr[-5000:]
            searches.append(json.loads(run.stdout)["promotion"])
        first, second = searches
        assert first["champion"] is True and first["evidence"]["decision"] == "first"
        evidence = second["evidence"]
        # Same data, same folds: the champion's own task's folds, no re-run; the default gate.
        assert evidence["decision"] in ("promote", "keep") and evidence["rule"] == "bootstrap"
        assert evidence["champion"]["model_id"] == first["model_id"] and evidence["champion"]["source"] == "its task"
        assert len(evidence["champion"]["scores"]) == 5 and evidence["candidates"]
        assert second["champion"] is (evidence["decision"] == "promote")
        best = hpo_cli(env, "best", "tfidf", "--json")
        assert best.returncode == 0, best.stderr[-3000:]
        expected = second["model_id"] if second["champion"] else first["model_id"]
        assert json.loads(best.stdout)["model_id"] == expected
    finally:
        _process.stop(home / "server")
