"""What the terminal shows of a search: running trials, the time left, and one truthful closing line."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from hpo.cli import _view
from hpo.study import Summary


def _summary(state: str = "running", **fields: Any) -> Summary:
    counts = {"queued": 0, "running": 0, "completed": 0, "pruned": 0, "failed": 0, "stopped": 0, "duplicate": 0}
    counts.update(fields.pop("counts", {}))
    base: dict[str, Any] = {
        "study": "bert-2",
        "state": state,
        "budget": 5,
        "counts": counts,
        "best_value": None,
        "best_params": {},
        "best_task_id": None,
        "elapsed_s": 75.0,
        "eta_s": None,
        "objectives": [["validation", "accuracy", "max"]],
        "attrs": {},
    }
    base.update(fields)
    return Summary(**base)


def _text(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(renderable)
    return out.getvalue()


RUNNING = {
    "number": 0,
    "state": "running",
    "task_id": "abc123",
    "queue": "gpu",
    "iteration": 120,
    "value": 0.8125,
    "started": 1000.0,
    "params": {},
}


def test_a_running_trial_shows_its_last_step_and_objective() -> None:
    summary = _summary(counts={"running": 1}, active=[RUNNING])
    shown = _text(_view.live_view(summary))
    assert "1 running" in shown
    row = next(line for line in shown.splitlines() if "abc123" in line)
    assert "120" in row and "0.8125" in row and "gpu" in row, row
    assert "last validation/accuracy" in shown
    assert "time left: known once a trial ends" in shown and "left ~-" not in shown
    table = _text(_view.active_table(summary, now=1000.0 + 125))
    assert "2:05" in table  # how long it has been running


def test_the_time_left_appears_once_a_trial_has_finished() -> None:
    summary = _summary(counts={"running": 1, "completed": 1}, eta_s=300.0, active=[RUNNING])
    assert "left ~5:00" in _text(_view.status_line(summary))


def test_an_interrupted_search_says_stopped_and_why_with_no_best_none() -> None:
    summary = _summary("stopped", attrs={"stop_reason": "Ctrl-C"}, counts={"stopped": 1})
    line = _view.outcome_line(summary)
    assert line == "bert-2: stopped (Ctrl-C) after 1/5 trials; no trial completed"
    assert "[stopped: Ctrl-C]" in _text(_view.status_line(summary))  # the same word as hpo status


def test_a_finished_search_names_its_best_trial() -> None:
    summary = _summary(
        "finished",
        attrs={"stop_reason": "finished"},
        counts={"completed": 5},
        best_value=0.91,
        best_task_id="t4",
        best_number=4,
    )
    assert (
        _view.outcome_line(summary)
        == "bert-2: finished after 5/5 trials; best validation/accuracy 0.91 (trial 4, task t4)"
    )
    assert _view.state_word(summary) == "finished"
