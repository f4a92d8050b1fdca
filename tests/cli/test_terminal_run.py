"""A real ``hpo search`` whose output is no terminal (``| tee``, a CI log): its setup steps, the study
view's link at the start, a progress line every few seconds, and one final table of short ids that fits
80 columns."""

from __future__ import annotations

import re

import pytest

from tests.support.search import SearchEnv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

BOX = "┏┃┡│└"


def test_a_piped_search_prints_steps_the_link_first_progress_lines_and_the_table_once(search_env: SearchEnv) -> None:
    space = search_env.slow_space(trials=4, concurrency=1, sleep_s=0.5)
    args = ("search", str(space), "--local-workers", "1", "--study", "piped")
    with search_env.start(*args, env={"COLUMNS": "80"}, split_stderr=True) as proc:
        # the study view's link as soon as the optimizer task exists: it is live while the search runs
        link = proc.until_line(r"^study view: (http://\S+)$", timeout=240)
        code = proc.wait(timeout=300)
        out, err = proc.output, proc.stderr
    assert code == 0, proc.tail()
    attrs = search_env.study_attrs("piped")
    assert link.group(1) == attrs["optimizer_url"] and attrs["optimizer_url"].startswith(search_env.env.server.url)
    lines = out.splitlines()
    first_progress = next(i for i, line in enumerate(lines) if line.startswith("piped [running] "))
    assert lines.index(link.group(0)) < first_progress, out  # before the first progress line, not at the end
    assert out.count("study view: ") == 1, out
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
