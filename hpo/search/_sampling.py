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

from hpo.search._space import Param, SearchSpace


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


def distribution(param: Param, grid: bool = False) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution ``param`` is sampled from (a grid samples every discrete value)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if grid or param.kind == "categorical":
        return CategoricalDistribution(param.grid_values() if grid else list(param.choices))
    assert param.low is not None and param.high is not None
    if param.kind in ("int", "log-int"):
        step = int(param.step or 1)
        return IntDistribution(int(param.low), int(param.high), step=step, log=param.kind == "log-int")
    if param.kind == "stepped":
        return FloatDistribution(param.low, param.high, step=param.step)
    return FloatDistribution(param.low, param.high, log=param.kind == "log-float")


def _suggest_one(trial: optuna.Trial, param: Param, grid: bool) -> Any:
    dist = distribution(param, grid)
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(param.name, list(dist.choices))
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(param.name, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, optuna.distributions.FloatDistribution)
    return trial.suggest_float(param.name, dist.low, dist.high, step=dist.step, log=dist.log)


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Sample one configuration: ``{"General/alpha": 0.1, ...}`` (inactive conditional ones left out)."""
    chosen: dict[str, Any] = {}
    grid = space.sampler.name == "grid"
    for param in space.params:
        if active(param, chosen):
            chosen[param.name] = _suggest_one(trial, param, grid)
    return chosen


def config_key(params: Mapping[str, Any]) -> str:
    """A canonical string of a configuration: equal configurations, equal keys (duplicate detection)."""
    return json.dumps({k: params[k] for k in sorted(params)}, sort_keys=True, default=str)


def as_override(params: Mapping[str, Any]) -> dict[str, str]:
    """Parameter overrides for a clone: ClearML stores parameters as strings."""
    return {name: _text(value) for name, value in params.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value)


__all__ = ["active", "as_override", "config_key", "distribution", "make_pruner", "make_sampler", "suggest"]
