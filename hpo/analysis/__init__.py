"""Why a search found what it found: its analysis, reported onto its optimizer task as ClearML plots.

Client code on the public ClearML SDK (the server knows nothing of HPO):

- ``_records.py``: one :class:`TrialRecord` per trial (parameters, values, learning curve, state,
  task times), from a study or rebuilt from an optimizer's child tasks (``_rebuild.py``);
- ``_figures.py``: the charts, drawn by ``optuna.visualization``/``optuna.importance``;
- ``_tables.py``: the per-worker timeline and the trials, cost and notes tables;
- ``_cost.py``: what a search cost (compute, queue wait, per queue, saved by pruning);
- ``_prune.py``: why a trial was pruned (the threshold it missed, computed as Optuna does);
- ``_report.py``: building the analysis and reporting it onto a task; ``_refresh.py``: the
  controller's throttled background refreshes.
"""

from hpo.analysis._cost import SearchCost, search_cost
from hpo.analysis._figures import Note, Plot
from hpo.analysis._prune import PruneReason, explain
from hpo.analysis._rebuild import analyze_task
from hpo.analysis._records import TrialRecord
from hpo.analysis._refresh import AnalysisRefresher
from hpo.analysis._report import Analysis, analyze_study, build_analysis, report

__all__ = [
    "Analysis",
    "AnalysisRefresher",
    "Note",
    "Plot",
    "PruneReason",
    "SearchCost",
    "TrialRecord",
    "analyze_study",
    "analyze_task",
    "build_analysis",
    "explain",
    "report",
    "search_cost",
]
