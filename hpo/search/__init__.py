"""Hyperparameter search: ClearML's ``HyperParameterOptimizer`` with our own Optuna strategy.

- ``_space.py``: the search-space YAML model and its validation;
- ``_sampling.py``: samplers, pruners and define-by-run sampling;
- ``_study.py``: the persistent Optuna study (the search's memory) and its summary;
- ``_routing.py``: which queue gets the next trial;
- ``_trials.py``: the ClearML side of trials (one batched status query per poll, aborts);
- ``_strategy.py``: the ``SearchStrategy`` subclass that ties them together;
- ``_controller.py``: ``hpo search`` end to end (server, data, template, agents);
- ``_cleanup.py``: ``hpo stop`` for a search whose controller died.
"""

from hpo.search._controller import SearchOptions, SearchResult, prepare, run_search
from hpo.search._space import SearchSpace, load_space
from hpo.search._study import Summary, open_storage, request_stop, study_names, summarize

__all__ = [
    "SearchOptions",
    "SearchResult",
    "SearchSpace",
    "Summary",
    "load_space",
    "open_storage",
    "prepare",
    "request_stop",
    "run_search",
    "study_names",
    "summarize",
]
