"""Build a search's analysis and report it onto its optimizer task as ClearML plots and tables.

Every plot and table is reported at iteration 0 under a fixed title and series, so that a refresh
overwrites the last one (ClearML keys plots by title, series and iteration) in any ClearML UI. The
cost also goes to the task's user properties (``compute_s``, ``saved_by_pruning_s``...).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo.analysis._cost import SearchCost, search_cost
from hpo.analysis._figures import Note, Plot, study_figures
from hpo.analysis._records import TrialRecord, add_task_times, records_from_study, view_study
from hpo.analysis._tables import COST, NOTES, TIMELINE, TRIALS, cost_table, notes_table, timeline_figure, trials_table
from hpo.study import Objective, StudyAttr, objectives_of

log = logging.getLogger(__name__)

ITERATION = 0  # every report at one iteration: a refresh replaces it


@dataclass
class Analysis:
    """The charts, tables and cost of one search, ready to report."""

    plots: list[Plot] = field(default_factory=list)
    tables: dict[str, tuple[str, list[list[Any]]]] = field(default_factory=dict)  # title -> (series, rows)
    notes: list[Note] = field(default_factory=list)
    cost: SearchCost = field(default_factory=SearchCost)

    @property
    def titles(self) -> list[str]:
        """The titles of everything it reports."""
        return [p.title for p in self.plots] + list(self.tables)


def searched_params(records: Sequence[TrialRecord]) -> list[str]:
    """The parameter names the trials were sampled over, in the order they first appear."""
    names: dict[str, None] = {}
    for record in sorted(records, key=lambda r: r.number):
        names.update(dict.fromkeys(record.distributions))
    return list(names)


def build_analysis(
    records: Sequence[TrialRecord], objectives: Sequence[Objective], params: Sequence[str] | None = None
) -> Analysis:
    """Every chart and table of the analysis of ``records`` (nothing is reported here).

    Args:
        records: The trials, with their task times.
        objectives: The objectives, in the order of each record's values.
        params: The searched parameters (default: those the records were sampled over).
    """
    params = list(params) if params is not None else searched_params(records)
    study = view_study(records, [o.optuna_direction for o in objectives])
    plots, notes = study_figures(study, objectives, params, records)
    timeline = timeline_figure(records)
    if timeline is not None:
        plots.append(Plot(TIMELINE, "trials", timeline))
    else:
        notes.append(Note(TIMELINE, "no trial task has times yet"))
    if not records:
        notes.append(Note(TRIALS, "no trial was launched yet"))
    cost = search_cost(records)
    analysis = Analysis(plots=plots, notes=notes, cost=cost)
    analysis.tables[TRIALS] = ("all trials", trials_table(records, params, objectives))
    analysis.tables[COST] = ("search", cost_table(cost))
    analysis.tables[NOTES] = ("what is missing", notes_table(notes))
    return analysis


def report(task: Any, analysis: Analysis) -> None:
    """Report ``analysis`` onto ``task`` (a clearml Task): plots, tables, and the cost as user properties."""
    logger = task.get_logger()
    for plot in analysis.plots:
        logger.report_plotly(title=plot.title, series=plot.series, figure=plot.figure, iteration=ITERATION)
    for title, (series, rows) in analysis.tables.items():
        logger.report_table(title=title, series=series, iteration=ITERATION, table_plot=rows)
    cost = analysis.cost.as_dict()
    task.set_user_properties(
        compute_s=str(cost["compute_s"]),
        queue_wait_s=str(cost["queue_wait_s"]),
        saved_by_pruning_s=str(cost["saved_by_pruning_s"]),
        steps_saved=str(cost["steps_saved"]),
    )
    logger.flush()


def analyze_study(study: optuna.Study, task: Any | None) -> Analysis:
    """Analyse a search's study (its trials' task times read from ClearML), store its cost in the study
    (``cost`` attribute, for ``hpo status``) and report it onto ``task`` when given."""
    records = records_from_study(study)
    add_task_times(records)
    analysis = build_analysis(records, objectives_of(study))
    study.set_user_attr(StudyAttr.COST, analysis.cost.as_dict())
    if task is not None:
        report(task, analysis)
    return analysis


__all__ = ["ITERATION", "Analysis", "analyze_study", "build_analysis", "report", "searched_params"]
