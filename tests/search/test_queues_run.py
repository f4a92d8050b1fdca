"""Item 8 of issue 17, end to end: the embedded default after `eval "$(hpo server env)"`, and a queue
no worker serves refused before anything is launched."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from tests.support.search import SearchEnv, start_search_env

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

ALL_TASKS = """
import json
from clearml import Task
rows = Task.query_tasks(project_name="search tests", additional_return_fields=["name", "tags"])
print("RESULT " + json.dumps(sorted(r["name"] for r in rows)))
"""


def test_search_refuses_a_queue_no_worker_serves(search_env: SearchEnv) -> None:
    space = search_env.space(trials=2)
    run = search_env.hpo("search", str(space), "--local-workers", "0", "--queue", "nobody-home")
    assert run.returncode == 1, run.stdout + run.stderr
    error = " ".join(run.stderr.split())
    assert "no worker serves queue 'nobody-home' ('nobody-home' does not exist on the server)" in error, error
    assert "no worker is registered on the server" in error
    assert "--local-workers N" in error and "`hpo agent start --queue nobody-home`" in error
    # nothing left behind: no study, no optimizer task, no trial, no draft
    assert search_env.study_so_far(space.stem) == []
    assert search_env.env.run(ALL_TASKS).result == ["curve"]

    started = search_env.hpo("agent", "start", "--queue", "elsewhere", "--workers", "1", "--poll-interval", "0.3")
    assert started.returncode == 0, started.stderr
    run = search_env.hpo("search", str(space), "--local-workers", "0", "--queue", "nobody-home")
    assert run.returncode == 1
    assert "workers seen: " in run.stderr and ":hpo-0 on elsewhere" in " ".join(run.stderr.split()), run.stderr


def _default_server(tmp_path: Path) -> contextlib.AbstractContextManager[SearchEnv]:
    """The embedded server of $HPO_HOME/server (what `hpo server start` runs), with the curve template."""
    return start_search_env(tmp_path, data_dir=tmp_path / "hpo_home" / "server")  # HPO_HOME is tmp_path/hpo_home


def test_search_after_server_env_starts_local_workers(tmp_path: Path) -> None:
    with _default_server(tmp_path) as ctx:
        env = subprocess.run(ctx.hpo_args("server", "env"), env=ctx.env.vars, capture_output=True, text=True)
        assert env.returncode == 0, env.stderr
        exported = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines() if "=" in line)
        assert exported["CLEARML_API_HOST"].strip("'\"") == ctx.env.server.url  # what the shell now has set
        summary = ctx.search(ctx.space(trials=2), "--trials", "2")  # no --local-workers, no --queue
        assert summary["state"] == "finished" and summary["counts"]["completed"] == 2, summary
        assert summary["queues"] == ["hpo-local"]
        assert {t["attrs"]["queue"] for t in ctx.study(summary["study"])} == {"hpo-local"}
        assert ctx.queue_entries().get("default", 0) == 0
