"""``hpo agent status`` lists the agents a search started for itself, marked with their study."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo import agents as local_agents
from hpo.paths import searches_dir
from tests.support.agents import POLL_S, AgentEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def test_status_lists_a_searchs_own_agents_with_their_study(agents: AgentEnv) -> None:
    home = Path(agents.env.vars["HPO_HOME"])
    search_home = searches_dir(home) / "tfidf-7"
    # Where and how `hpo search` starts its --local-workers agents (hpo.search._controller), from
    # another process as a search does.
    agents.env.run(
        f"""
        from pathlib import Path
        from hpo.agents import start
        start(["hpo-local"], 1, home=Path({str(search_home)!r}), poll_s={POLL_S}, prefix="hpo-tfidf-7")
        """
    )
    try:
        only_search = agents.status()
        assert [(row["worker_id"].split(":")[-1], row["study"]) for row in only_search] == [
            ("hpo-tfidf-7-0", "tfidf-7")
        ]
        agents.start_agents("mine")
        rows = {row["worker_id"].split(":")[-1]: row for row in agents.status()}
        assert set(rows) == {"hpo-0", "hpo-tfidf-7-0"}
        assert rows["hpo-tfidf-7-0"]["study"] == "tfidf-7"
        assert rows["hpo-tfidf-7-0"]["queues"] == ["hpo-local"]
        assert rows["hpo-tfidf-7-0"]["alive"] and rows["hpo-tfidf-7-0"]["registered"]
        assert rows["hpo-0"]["study"] is None
        text = agents.hpo("agent", "status").stdout
        assert "tfidf-7" in text and "hpo-local" in text and "mine" in text
        # `hpo agent stop` stops yours; the search's agents stay with their search.
        agents.hpo("agent", "stop", "--timeout", "5")
        assert [row["study"] for row in agents.status()] == ["tfidf-7"]
    finally:
        local_agents.stop(home=search_home, timeout=5)
    assert "no agent started" in agents.hpo("agent", "status").stdout
