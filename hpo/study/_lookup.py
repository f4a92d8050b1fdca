"""Finding studies by name: the names, a fresh name, the latest one, and loading one."""

from __future__ import annotations

import re
from typing import Any

import optuna

from hpo.errors import NotFoundError
from hpo.study._keys import StudyAttr
from hpo.study._storage import as_storage

StorageLike = str | optuna.storages.BaseStorage | None  # an opened storage, a URL, or None for the default


def study_names(storage: StorageLike = None) -> list[str]:
    """The names of every study in ``storage``, oldest first."""
    summaries = optuna.study.get_all_study_summaries(as_storage(storage), include_best_trial=False)
    return [s.study_name for s in summaries]


def new_study_name(storage: StorageLike, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... when taken."""
    taken = set(study_names(storage))
    if base not in taken:
        return base
    numbers = [int(m.group(1)) for name in taken if (m := re.fullmatch(re.escape(base) + r"-(\d+)", name))]
    return f"{base}-{max(numbers, default=1) + 1}"


def latest(storage: StorageLike = None, space_name: str | None = None) -> str | None:
    """The most recently started study (of search space ``space_name``, when given); None if none."""
    found: tuple[float, str] | None = None
    for summary in optuna.study.get_all_study_summaries(as_storage(storage), include_best_trial=False):
        attrs = summary.user_attrs
        if space_name is not None and attrs.get(StudyAttr.SPACE_NAME) != space_name:
            continue
        started = float(attrs.get(StudyAttr.STARTED) or 0)
        if found is None or started > found[0]:
            found = (started, summary.study_name)
    return found[1] if found else None


def load(name: str, storage: StorageLike = None, **kwargs: Any) -> optuna.Study:
    """Study ``name`` (``kwargs`` go to ``optuna.load_study``: a sampler, a pruner).

    Raises:
        NotFoundError: No such study.
    """
    store = as_storage(storage)
    names = study_names(store)
    if name not in names:
        known = ", ".join(names) or "none"
        raise NotFoundError(f"no study {name!r} in the storage (studies: {known}); see `hpo studies` or pass --storage")
    return optuna.load_study(study_name=name, storage=store, **kwargs)


__all__ = ["StorageLike", "latest", "load", "new_study_name", "study_names"]
