"""Promotion of a search's best model, and the champion model from code.

- ``_select.py``: the best *completed* trial of a study (Pareto front and tie-break for several objectives);
- ``_records.py``: promotion tags and metadata on ClearML models (``STUDY_PREFIX``: a promoted model's
  ``study:<name>`` tag);
- ``_lock.py``: a mutex through the ClearML server (unique queue names), so racing promotions agree;
- ``_promote.py``: ``hpo promote`` and the champion rule;
- ``_evidence.py`` (pure statistics), ``_gate.py`` (per-fold scores of tasks, the champion's re-run),
  ``_judge.py`` (the verdict): the promotion gate, a new champion only on evidence;
- ``_weights.py``: whether a candidate's weights are its own (in a shared store), and their SHA-256;
- ``_best.py``, ``_loaders.py``: ``get_best_model``: find, download (hash checked), load and predict.
"""

from hpo.promotion._best import BestModel, find_champion, get_best_model
from hpo.promotion._evidence import RULES, Gate
from hpo.promotion._loaders import Prediction
from hpo.promotion._lock import LockError, ServerLock
from hpo.promotion._promote import Promotion, promote_study
from hpo.promotion._records import STUDY_PREFIX

__all__ = [
    "RULES",
    "STUDY_PREFIX",
    "BestModel",
    "Gate",
    "LockError",
    "Prediction",
    "Promotion",
    "ServerLock",
    "find_champion",
    "get_best_model",
    "promote_study",
]
