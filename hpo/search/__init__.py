"""Hyperparameter search: ClearML's ``HyperParameterOptimizer`` with our own Optuna strategy.

- ``_space.py``: the search-space YAML model and its validation;
- ``_param.py``: one searched parameter, which owns its kind (Optuna distribution, ClearML range,
  range ends, stored text read back);
- ``_sampling.py``: samplers, pruners and define-by-run sampling;
- ``_routing.py``: which queue gets the next trial;
- ``_trials.py``: the ClearML side of trials (one batched status query per poll, aborts);
- ``_plan.py``: ``SearchOptions`` (what was asked), ``SearchPlan`` (what will run), ``SearchResult``;
- ``_ledger.py``: the strategy's pure bookkeeping (active trials, seen configurations, launches);
- ``_watch.py``: each poll's outcomes told to Optuna (progress, pruning, completion, retries);
- ``_resume.py``: a resumed study brought in line with ClearML (re-attach, fail, discard);
- ``_strategy.py``: the ``SearchStrategy`` subclass that ties them together (launch, abort);
- ``_drive.py``: a plan run with ClearML's ``HyperParameterOptimizer`` to its end, then promotion;
- ``_converge.py``: ``--stop-when converged`` (Optuna's regret bound against the objective's noise);
- ``_warm.py``: ``--warm-start`` (earlier ClearML tasks of the template as the study's first trials);
- ``_template.py``: which template task a search clones, and the checks of a space against it;
- ``_controller.py``: ``hpo search`` end to end: ``plan_search`` (server, template, study), agents, ``drive``;
- ``_manage.py``: watch and stop searches from any process (``hpo status``, ``hpo studies``, ``hpo stop``);
- ``_cleanup.py``: ``hpo stop`` for a search whose controller died.

The study (the search's memory: storage, names, attributes, summaries) is :mod:`hpo.study`.
"""

from hpo.search._cleanup import Cleanup
from hpo.search._controller import SearchOptions, SearchResult, new_log_file, prepare, run_search
from hpo.search._manage import NO_SEARCHES, StopResult, list_studies, search_status, stop_search
from hpo.search._space import SearchSpace, load_space

__all__ = [
    "NO_SEARCHES",
    "Cleanup",
    "SearchOptions",
    "SearchResult",
    "SearchSpace",
    "StopResult",
    "list_studies",
    "load_space",
    "new_log_file",
    "prepare",
    "run_search",
    "search_status",
    "stop_search",
]
