"""Hyperparameter search: ClearML's ``HyperParameterOptimizer`` with our own Optuna strategy.

- ``_space.py``: the search-space YAML model and its validation;
- ``_sampling.py``: samplers, pruners and define-by-run sampling;
- ``_routing.py``: which queue gets the next trial;
- ``_trials.py``: the ClearML side of trials (one batched status query per poll, aborts);
- ``_strategy.py``: the ``SearchStrategy`` subclass that ties them together;
- ``_converge.py``: ``--stop-when converged`` (Optuna's regret bound against the objective's noise);
- ``_warm.py``: ``--warm-start`` (earlier ClearML tasks of the template as the study's first trials);
- ``_template.py``: which template task a search clones, and the checks of a space against it;
- ``_controller.py``: ``hpo search`` end to end (server, data, template, agents);
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
