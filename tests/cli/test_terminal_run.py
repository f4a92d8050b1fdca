"""A real ``hpo search`` whose output is no terminal (``| tee``, a CI log): its setup steps, a progress
line every few seconds, and one final table of short ids that fits 80 columns."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.search import SearchEnv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

BOX = "┏┃┡│└"


def test_a_piped_search_prints_steps_progress_lines_and_the_table_once(search_env: SearchEnv) -> None:
    space = search_env.space(
        trials=4,
        concurrency=1,
        parameters={
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/sleep_s": {"type": "categorical", "choices": [0.5]},
        },
    )
    proc = subprocess.run(
        search_env.hpo_args("search", str(space), "--local-workers", "1", "--study", "piped"),
        env={**search_env.env.vars, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=search_env.root,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
    out, err = proc.stdout, proc.stderr
    # the setup, one line a step (this server is configured, so none is started here)
    assert f"using the ClearML server at {search_env.env.server.url} (from environment)" in err, err
    assert "started 1 local agent(s) on default" in err, err
    assert f"log: {search_env.root}" in err  # whole, not wrapped at 80 columns: a path to copy
    # progress while it ran, on stdout where no live view could be drawn
    progress = re.findall(r"^piped \[running\] (\d)/4 done \(\d running, \d queued\)", out, re.M)
    assert progress and progress == sorted(progress), out
    assert "piped: finished after 4/4 trials; best validation/score" in out
    # the top trials once, at 80 columns, each id its first 8 characters
    assert out.count("top trials of piped") == 1, out
    table = [line for line in out.splitlines() if line[:1] in BOX]
    assert table and max(len(line) for line in table) <= 80, "\n".join(table)
    ids = {t["id"] for t in search_env.trials()}
    shown = {line.split("│")[-2].strip() for line in table if line.startswith("│") and line.split("│")[1].strip()}
    assert shown and shown <= {i[:8] for i in ids}, (shown, ids)
