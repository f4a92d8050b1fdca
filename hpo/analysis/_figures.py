"""The analysis charts, drawn by ``optuna.visualization`` on a study of the search's ended trials.

:func:`study_figures` returns one :class:`Plot` per chart it could draw (its title names what it
shows; its series is the objective) and a :class:`Note` for each chart it could not, saying what is
missing: no completed trial, a parameter that never varied, an importance fit that failed. Nothing
here raises for a study too small to chart.

Trials in the study are numbered as in the search (see :func:`hpo.analysis._records.view_study`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from hpo.analysis._records import TrialRecord
from hpo.study import Objective, TrialLabel

log = logging.getLogger(__name__)

HISTORY = "Optimization history"
IMPORTANCE = "Hyper-parameter importance ({})"
EVALUATORS = {"fANOVA": "FanovaImportanceEvaluator", "PED-ANOVA": "PedAnovaImportanceEvaluator"}
SLICE = "Slice plot"
CONTOUR = "Contour of the two most important parameters"
PARALLEL = "Parallel coordinates"
PARETO = "Pareto front"
INTERMEDIATE = "Intermediate values (learning curves)"


@dataclass(frozen=True)
class Plot:
    """One chart for the optimizer task: ``title``/``series`` as ClearML keys plots."""

    title: str
    series: str
    figure: Any  # a plotly Figure


@dataclass(frozen=True)
class Note:
    """A chart that could not be drawn, and why."""

    chart: str
    missing: str


def _evaluator(name: str) -> Any:
    if name == "fANOVA":
        return optuna.importance.FanovaImportanceEvaluator(seed=0)
    return optuna.importance.PedAnovaImportanceEvaluator()


def varied(study: optuna.Study, params: Sequence[str]) -> tuple[list[str], list[str]]:
    """``params`` split into those that took more than one value over the completed trials, and the rest."""
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    moving: list[str] = []
    fixed: list[str] = []
    for name in params:
        values = {repr(t.params[name]) for t in completed if name in t.params}
        (moving if len(values) > 1 else fixed).append(name)
    return moving, fixed


def _draw(chart: str, notes: list[Note], make: Callable[[], Any]) -> Any | None:
    """Run one Optuna drawing; a failure (too few trials...) becomes a note instead."""
    try:
        with warnings.catch_warnings():  # Optuna's ExperimentalWarning and "no trials" warnings
            warnings.simplefilter("ignore")
            return make()
    except Exception as err:  # e.g. an importance fit on two trials: shown as missing, never raised
        notes.append(Note(chart, f"{type(err).__name__}: {err}"))
        return None


def study_figures(
    study: optuna.Study, objectives: Sequence[Objective], params: Sequence[str], records: Sequence[TrialRecord]
) -> tuple[list[Plot], list[Note]]:
    """Every chart of the analysis that ``study`` can show, and notes on the ones it cannot.

    Args:
        study: The search's ended trials (an in-memory view, numbered as in the search).
        objectives: The search's objectives, in the study's order.
        params: The searched parameter names (the space's), in its order.
        records: The trials (for pruned markers on the learning curves).
    """
    plots: list[Plot] = []
    notes: list[Note] = []
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not completed:
        notes.append(Note("all charts of values", "no completed trial yet"))
    else:
        moving, fixed = varied(study, params)
        notes.extend(Note("importance, slice, contour", f"{name} never varied") for name in fixed)
        for index, _objective in enumerate(objectives):
            plots.extend(_per_objective(study, objectives, index, moving, notes))
        if len(objectives) > 1:
            names = [o.label for o in objectives]
            fig = _draw(PARETO, notes, lambda: optuna.visualization.plot_pareto_front(study, target_names=names))
            if fig is not None:
                plots.append(Plot(PARETO, "front", fig))
    curves = _curves(study, records, objectives[0].label, notes)
    if curves is not None:
        plots.append(Plot(INTERMEDIATE, objectives[0].label, curves))
    return plots, notes


def _target(objectives: Sequence[Objective], index: int) -> Callable[[FrozenTrial], float] | None:
    if len(objectives) == 1:
        return None  # Optuna's single-objective path (the best-so-far line needs it)
    return lambda trial: float(trial.values[index])


def _per_objective(
    study: optuna.Study, objectives: Sequence[Objective], index: int, moving: list[str], notes: list[Note]
) -> list[Plot]:
    """History, importances, slice, contour and parallel coordinates for one objective."""
    vis = optuna.visualization
    objective = objectives[index]
    label, target = objective.label, _target(objectives, index)
    out: list[Plot] = []

    def add(title: str, make: Callable[[], Any]) -> Any | None:
        fig = _draw(f"{title} of {label}", notes, make)
        if fig is not None:
            fig.update_layout(title=f"{title}: {label}")
            out.append(Plot(title, label, fig))
        return fig

    add(HISTORY, lambda: vis.plot_optimization_history(study, target=target, target_name=label))
    ranked: list[str] = []
    if len(moving) == 0:
        notes.append(Note(f"importance of {label}", "no parameter varied"))
    for evaluator in EVALUATORS if moving else ():
        title = IMPORTANCE.format(evaluator)
        fig = add(
            title,
            lambda e=evaluator: vis.plot_param_importances(  # type: ignore[misc]
                study, evaluator=_evaluator(e), params=moving, target=target, target_name=label
            ),
        )
        ranked = ranked or _ranking(fig)
    if moving:
        add(SLICE, lambda: vis.plot_slice(study, params=moving, target=target, target_name=label))
        add(PARALLEL, lambda: vis.plot_parallel_coordinate(study, params=moving, target=target, target_name=label))
    pair = (ranked or moving)[:2]
    if len(pair) == 2:
        add(CONTOUR, lambda: vis.plot_contour(study, params=pair, target=target, target_name=label))
    else:
        notes.append(Note(f"{CONTOUR} of {label}", "fewer than two parameters varied"))
    return out


def _ranking(fig: Any | None) -> list[str]:
    """The parameters of an importance chart, the most important first (each importance is fitted once)."""
    if fig is None or not fig.data:
        return []
    bars = fig.data[0]
    pairs = sorted(zip(bars.x, bars.y, strict=False), key=lambda pair: -float(pair[0]))
    return [str(name) for _, name in pairs]


def _curves(study: optuna.Study, records: Sequence[TrialRecord], label: str, notes: list[Note]) -> Any | None:
    """Optuna's intermediate-values chart, with each pruned trial marked where it stopped."""
    if not any(r.intermediate for r in records):
        notes.append(Note(INTERMEDIATE, "no trial reported intermediate values yet"))
        return None
    fig = _draw(INTERMEDIATE, notes, lambda: optuna.visualization.plot_intermediate_values(study))
    if fig is None:
        return None
    pruned = [r for r in records if r.state == TrialLabel.PRUNED and r.intermediate]
    if pruned:
        import plotly.graph_objects as go

        stops = [max(r.intermediate) for r in pruned]
        fig.add_trace(
            go.Scatter(
                x=stops,
                y=[r.intermediate[s] for r, s in zip(pruned, stops, strict=True)],
                mode="markers",
                marker={"symbol": "x", "size": 11, "color": "red"},
                name="pruned here",
                text=[f"trial {r.number}: {(r.pruned or {}).get('reason', 'pruned')}" for r in pruned],
                hoverinfo="text",
            )
        )
    fig.update_layout(title=f"{INTERMEDIATE}: {label} (x: pruned trials where they stopped)")
    return fig


__all__ = [
    "CONTOUR",
    "EVALUATORS",
    "HISTORY",
    "IMPORTANCE",
    "INTERMEDIATE",
    "PARALLEL",
    "PARETO",
    "SLICE",
    "Note",
    "Plot",
    "study_figures",
    "varied",
]
