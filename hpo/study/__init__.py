"""The study: a search's memory, in an Optuna storage, below search, promotion and the dashboard.

As optuna keeps ``storages/`` and ``study/`` below ``samplers/``, everything that reads or writes
a search's study goes through here:

- ``_storage.py``: opening the storage (SQLite under ``$HPO_HOME``, or any RDB URL);
- ``_lookup.py``: names, a fresh name, the latest study, ``load(name)``;
- ``_keys.py``: the user attribute names and the state words (:class:`TrialLabel`, :class:`SearchState`);
- ``_objectives.py``: the objectives a study records;
- ``_control.py``: the controller record (alive or not, stop requests) and trial outcomes;
- ``_summary.py``: counts, best trial, timing, top trials;
- ``_budget.py``: several controllers on one study: the study lock, budget claims, controller records,
  and trials their own search interrupted (not spent, queued again);
- ``_naming.py``: creating a study under a free name, atomically; ``_rdb.py``: opening an RDB URL.

The study is named after the search. The ClearML tasks are the truth about what ran; on resume
the controller reconciles the two. Anything may read a study while a search writes it
(``hpo status``, ``optuna-dashboard``). Nothing here talks to ClearML.
"""

from hpo.study._budget import (
    claim_trial,
    controller_records,
    counts_against_budget,
    interrupt_trial,
    interrupted,
    new_owner,
    others_alive,
    owner_alive,
    study_lock,
    write_controller_record,
)
from hpo.study._control import (
    HEARTBEAT_STALE_S,
    controller_gone,
    finish_trial,
    launched,
    mark_controller,
    request_stop,
    search_state,
    trial_label,
)
from hpo.study._keys import FINISHED_LABELS, SearchState, StudyAttr, TrialAttr, TrialLabel
from hpo.study._lookup import StorageLike, latest, load, new_study_name, study_names
from hpo.study._naming import create_named_study
from hpo.study._objectives import Objective, objectives_of
from hpo.study._storage import as_storage, default_storage, open_storage
from hpo.study._summary import Summary, summarize

__all__ = [
    "FINISHED_LABELS",
    "HEARTBEAT_STALE_S",
    "Objective",
    "SearchState",
    "StorageLike",
    "StudyAttr",
    "Summary",
    "TrialAttr",
    "TrialLabel",
    "as_storage",
    "claim_trial",
    "controller_records",
    "counts_against_budget",
    "create_named_study",
    "controller_gone",
    "default_storage",
    "finish_trial",
    "interrupt_trial",
    "interrupted",
    "latest",
    "launched",
    "load",
    "mark_controller",
    "new_owner",
    "new_study_name",
    "objectives_of",
    "open_storage",
    "others_alive",
    "owner_alive",
    "request_stop",
    "search_state",
    "study_lock",
    "study_names",
    "summarize",
    "trial_label",
    "write_controller_record",
]
