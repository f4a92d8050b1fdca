"""From a search space to Optuna: samplers, pruners, and one configuration per trial.

Trials are sampled define-by-run (``study.ask()`` then ``trial.suggest_*``), so conditional
parameters are simply not suggested when their condition does not hold; the template's default
applies to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import optuna

from hpo.search._param import Param, stored_text
from hpo.search._space import SearchSpace


def make_sampler(space: SearchSpace, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler the space (or ``--sampler``) names, with its options (``seed``, ...).

    A resumed study passes its trial count as ``seed_offset``: a seeded sampler would otherwise
    replay the configurations it proposed before the interruption.
    """
    options = dict(space.sampler.options)
    if options.get("seed") is not None:
        options["seed"] = int(options["seed"]) + seed_offset
    name = space.sampler.name
    if name == "grid":
        grid = {p.name: p.grid_values() for p in space.params}
        return optuna.samplers.GridSampler(grid, **options)
    if name == "random":
        return optuna.samplers.RandomSampler(**options)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(**options)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(**options)
    return optuna.samplers.TPESampler(**options)


def make_pruner(space: SearchSpace) -> optuna.pruners.BasePruner:
    """The pruner the space (or ``--pruner``) names; steps are the iterations trials report."""
    options = dict(space.pruner.options)
    name = space.pruner.name
    if name == "median":
        return optuna.pruners.MedianPruner(**options)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(**options)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    return optuna.pruners.NopPruner()


def active(param: Param, chosen: Mapping[str, Any]) -> bool:
    """Whether ``param`` is searched given the values ``chosen`` for the parameters before it (``when:``)."""
    return all(other in chosen and chosen[other] in values for other, values in param.when.items())


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Sample one configuration: ``{"General/alpha": 0.1, ...}`` (inactive conditional ones left out)."""
    chosen: dict[str, Any] = {}
    grid = space.sampler.name == "grid"
    for param in space.params:
        if active(param, chosen):
            chosen[param.name] = param.suggest(trial, grid)
    return chosen


def config_key(params: Mapping[str, Any]) -> str:
    """A canonical string of a configuration: equal configurations, equal keys (duplicate detection)."""
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=str)


def as_override(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameter overrides for a clone: ClearML stores parameters as strings."""
    return {name: stored_text(value) for name, value in params.items()}


__all__ = ["active", "as_override", "config_key", "make_pruner", "make_sampler", "suggest"]
