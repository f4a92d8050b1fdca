"""The timeline chart and the tables of the analysis: trials, cost, and what could not be shown.

The timeline is a small plotly chart of our own: Optuna's ``plot_timeline`` draws one lane per
trial from the study's own start/complete times, with no queued period and no worker; here each
lane is a worker, and each trial is a queued bar (its task's creation to its start) and a run bar
(start to end) coloured by how it ended.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from hpo.analysis._cost import SearchCost
from hpo.analysis._figures import Note
from hpo.analysis._records import TrialRecord
from hpo.study import Objective

TIMELINE = "Timeline (queued and running, per worker)"
TRIALS = "Trials"
COST = "Cost"
NOTES = "Analysis notes"
_COLOURS = {
    "queued": "#c7c7c7",
    "running": "#1f77b4",
    "completed": "#2ca02c",
    "pruned": "#ff7f0e",
    "failed": "#d62728",
    "stopped": "#9467bd",
}


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _iso(seconds: float) -> str:
    """A UTC date as plotly.js reads it (it takes no time zone: no ``Z``)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}"


def timeline_figure(records: Sequence[TrialRecord], now: float | None = None) -> Any | None:
    """One lane per worker: each trial's queued then running bar; ``None`` when no task has times."""
    import plotly.graph_objects as go

    now = time.time() if now is None else now
    bars: dict[str, dict[str, list[Any]]] = {}

    def bar(kind: str, lane: str, start: float, end: float, text: str) -> None:
        entry = bars.setdefault(kind, {"y": [], "base": [], "x": [], "text": []})
        entry["y"].append(lane)
        entry["base"].append(_iso(start))
        entry["x"].append(_ms(max(end - start, 0.0)))
        entry["text"].append(text)

    for record in sorted(records, key=lambda r: r.number):
        if record.created is None:
            continue
        lane = record.worker or "(not started)"
        queued_end = record.started if record.started is not None else (record.ended or now)
        bar("queued", lane, record.created, queued_end, f"#{record.number} queued")
        if record.started is not None:
            kind = record.state if record.ended is not None else "running"
            bar(kind if kind in _COLOURS else "failed", lane, record.started, record.ended or now, f"#{record.number}")
    if not bars:
        return None
    fig = go.Figure()
    for kind, entry in bars.items():
        queued = kind == "queued"  # thin and behind: a worker's lane shows what it ran, and what waited for it
        fig.add_trace(
            go.Bar(
                orientation="h",
                name=kind,
                marker={"color": _COLOURS.get(kind, "#7f7f7f")},
                width=0.3 if queued else 0.8,
                opacity=0.6 if queued else 1.0,
                textposition="none" if queued else "inside",
                hovertemplate="%{text}<extra>" + kind + "</extra>",
                **entry,
            )
        )
    fig.update_layout(barmode="overlay", title=TIMELINE, xaxis={"type": "date", "title": "time (UTC)"})
    fig.update_yaxes(title="worker", type="category")
    return fig


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}g}"


def trials_table(
    records: Sequence[TrialRecord], params: Sequence[str], objectives: Sequence[Objective]
) -> list[list[Any]]:
    """Rows (header first): searched parameters, objective value(s), state, pruned-at step and reason,
    queue wait and run time (seconds), worker, task id."""
    header = [
        "trial",
        *params,
        *(o.label for o in objectives),
        "state",
        "pruned at step",
        "pruned reason",
        "queue wait (s)",
        "run (s)",
        "worker",
        "task id",
    ]
    rows: list[list[Any]] = [header]
    for r in sorted(records, key=lambda r: r.number):
        values = list(r.values or [])
        pruned = r.pruned or {}
        rows.append(
            [
                r.number,
                *(_param(r.params.get(p)) for p in params),
                *(_num(values[i]) if i < len(values) else "" for i in range(len(objectives))),
                r.state,
                "" if pruned.get("step") is None else pruned["step"],
                pruned.get("reason", ""),
                _num(r.queue_wait_s, 3),
                _num(r.run_s, 4),
                r.worker or "",
                r.task_id or "",
            ]
        )
    return rows


def _param(value: Any) -> Any:
    return _num(value) if isinstance(value, float) else ("" if value is None else value)


def cost_table(cost: SearchCost) -> list[list[Any]]:
    """Rows (header first) of the search's cost."""
    rows: list[list[Any]] = [["what", "seconds", "note"]]
    rows.append(["total compute (trials' run time)", round(cost.compute_s, 1), f"{cost.timed_trials} trials timed"])
    rows.append(["total queue wait", round(cost.queue_wait_s, 1), "task created to started"])
    for queue, seconds in sorted(cost.per_queue.items()):
        rows.append([f"compute on queue {queue}", round(seconds, 1), ""])
    saved = _steps(cost.steps_saved) + " not trained"
    note = (
        f"{saved} (a completed trial trains {_steps(cost.full_steps)})"
        if cost.full_steps
        else f"{saved}; no completed trial"
    )
    rows.append(["saved by pruning", round(cost.saved_by_pruning_s, 1), note])
    return rows


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def notes_table(notes: Sequence[Note]) -> list[list[Any]]:
    """Rows (header first) saying what could not be shown and why (one row saying all is shown when so)."""
    rows: list[list[Any]] = [["chart", "what is missing"]]
    rows.extend([n.chart, n.missing] for n in notes)
    if not notes:
        rows.append(["(all)", "nothing: every chart is shown"])
    return rows


__all__ = ["COST", "NOTES", "TIMELINE", "TRIALS", "cost_table", "notes_table", "timeline_figure", "trials_table"]
