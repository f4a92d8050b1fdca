"""A search's trial clones never look like templates, and its own agents show in ``hpo agent status``."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

# Every way of finding templates by tag: a raw tag query (what any tool might run), and ours.
LOOKUP = """
import json
from clearml import Task
from hpo.templates import find_templates

raw = Task.query_tasks(tags=["__$all", "hpo-template", "template:curve"])
print("RESULT " + json.dumps({"raw": raw, "ours": [t.id for t in find_templates("curve")]}))
"""


def _agents_of_running_search(search_env: SearchEnv, proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    """``hpo agent status --json`` rows marked with a study, polled while the search runs."""
    while proc.poll() is None:
        status = search_env.hpo("agent", "status", "--json", timeout=60)
        assert status.returncode == 0, status.stderr
        rows = [row for row in json.loads(status.stdout) if row["study"]]
        if rows:
            return rows
        time.sleep(0.3)
    return []


def test_trial_clones_carry_no_template_tags(search_env: SearchEnv) -> None:
    template_id = search_env.env.run(LOOKUP).result["raw"][0]
    space = search_env.space(trials=3, concurrency=1)
    with search_env.start("search", str(space), "--study", "tags", "--local-workers", "1", "--json") as search:
        rows = _agents_of_running_search(search_env, search.proc)
        assert search.proc.wait(timeout=240) == 0
    assert [(row["study"], row["queues"], row["alive"]) for row in rows] == [("tags", ["default"], True)], rows
    assert str(rows[0]["worker_id"]).endswith(":hpo-tags-0")

    trials = search_env.trials()
    assert len(trials) == 3
    for trial in trials:
        assert "hpo-template" not in trial["tags"] and not any(t.startswith("template:") for t in trial["tags"])
        assert "from-template:curve" in trial["tags"]  # its lineage, which no template lookup takes
        assert "study:tags" in trial["tags"]
    assert search_env.env.run(LOOKUP).result == {"raw": [template_id], "ours": [template_id]}
    # The search is over: its agents are gone, and so are they from `hpo agent status`.
    assert "no agent started" in search_env.hpo("agent", "status").stdout
