"""Choosing a new study's name atomically: the storage's unique study name decides.

``hpo search tfidf`` names its study ``tfidf``, else ``tfidf-2``, ``tfidf-3``... Two searches
started at the same instant both see the same free name; Optuna's ``create_study`` lets only one
of them have it (the study name is unique in the storage), and the other takes the next one.
A name the user chose (``--study``) is never changed: a clash is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import optuna

from hpo.errors import ConfigError
from hpo.study._lookup import new_study_name

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50


def create_named_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    *,
    exact: bool,
    directions: Sequence[Any],
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """A new study named ``name`` (``exact``), or the first free of ``name``, ``name-2``...

    Raises:
        ConfigError: ``exact`` and a study ``name`` exists already.
    """
    for _ in range(MAX_ATTEMPTS):
        chosen = name if exact else new_study_name(storage, name)
        try:
            return optuna.create_study(
                storage=storage, study_name=chosen, directions=list(directions), sampler=sampler, pruner=pruner
            )
        except optuna.exceptions.DuplicatedStudyError as err:
            if exact:
                raise ConfigError(
                    f"study {chosen!r} exists; pass --resume to continue it, or another --study name"
                ) from err
            log.info("study name %r was taken meanwhile; trying the next", chosen)
    raise ConfigError(f"no free study name after {name!r} in {MAX_ATTEMPTS} attempts; pass --study NAME")


__all__ = ["create_named_study"]
