"""Checks of a space against what its template promises, before anything is launched.

A base task declares the scalars it reports and the ranges of its arguments
(:mod:`hpo.templates._contract`). Every value a search could give a checked argument is tried: a
``fixed`` value, the ends of a searched range (or each choice), each ``initial`` configuration and,
for arguments the space leaves alone, the template's own value. An objective the template does not
report, or reports only when a switch the space may turn off is on, fails here too.

Every template, a user's run included, is also checked against what the task itself recorded
(:func:`check_run`): each parameter exists with its section (a Hydra config key counts as a
``Hydra/`` override), none names a configuration object, ``Hydra/`` overrides are not ignored
(``_allow_omegaconf_edit_`` false), the objective is among the scalars the run reported (when it
reported any) and a multi-fidelity pruner has more than one iteration of it to prune on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hpo.errors import ConfigError
from hpo.search._space import SearchSpace
from hpo.templates._contract import Contract
from hpo.templates._introspect import HYDRA_CONFIG, HYDRA_EDIT, HYDRA_SECTION, RunInfo

SECTION = "General/"

GroupsFn = Callable[[str, str, str], int]
"""The number of groups in train+validation of dataset (name, project, version)."""


def values_of(space: SearchSpace, name: str, template_params: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for every value the search could give ``name`` (ends of ranges, each choice)."""
    if name in space.fixed:
        yield f"fixed.{name}", space.fixed[name]
        return
    searched = next((p for p in space.params if p.name == name), None)
    if searched is None:
        if name in template_params:
            yield f"the template's {name}", template_params[name]
    else:
        for end, value in searched.ends():
            yield f"parameters.{name}" + (f".{end}" if end else ""), value
    for number, config in enumerate(space.initial):
        if name in config:
            yield f"initial[{number}].{name}", config[name]


def preflight(space: SearchSpace, contract: Contract, template_params: Mapping[str, Any], groups: GroupsFn) -> None:
    """Fail before launch when a trial of ``space`` could not report the objective or take an argument.

    Raises:
        ConfigError: Names the field, the value, the template's range and the fix.
    """
    _check_objectives(space, contract, template_params)
    count = functools.cache(lambda: _groups(space, template_params, groups))
    for argument, limit in contract.limits.items():
        name = SECTION + argument
        for where, value in values_of(space, name, template_params):
            problem = limit.violation(value, count)
            if problem is not None:
                shown = limit.describe(count() if limit.needs_groups else None)
                raise ConfigError(
                    f"{space.path}: {where}: {problem}; template {space.template!r} takes {argument} in {shown};"
                    f" fix: keep {name} in that range"
                )


def _check_objectives(space: SearchSpace, contract: Contract, template_params: Mapping[str, Any]) -> None:
    if not contract.reports:
        return
    for objective in space.objectives:
        metric = f"{objective.title}/{objective.series}"
        switch = contract.switch_of(metric)
        if switch is None:
            reported = ", ".join(sorted(contract.reports))
            raise ConfigError(
                f"{space.path}: objective: template {space.template!r} does not report {metric};"
                f" fix: pick one it reports: {reported}"
            )
        if not switch:
            continue
        limit = contract.limits[switch]
        for where, value in values_of(space, SECTION + switch, template_params):
            if limit.is_off(value):
                raise ConfigError(
                    f"{space.path}: {where}: {value!r} switches off {metric}, the objective;"
                    f" fix: keep {SECTION + switch} other than {limit.off!r}, or optimise another metric"
                )


def _groups(space: SearchSpace, template_params: Mapping[str, Any], groups: GroupsFn) -> int:
    """The fewest groups among the dataset versions the search could read."""

    def one(argument: str) -> list[str]:
        return [str(value) for _, value in values_of(space, SECTION + argument, template_params)] or [""]

    return min(
        groups(name, project, version)
        for name in one("dataset_name")
        for project in one("dataset_project")
        for version in one("dataset_version")
    )


MULTI_FIDELITY = ("median", "asha", "hyperband")  # pruners that compare intermediate values


def _named(space: SearchSpace) -> list[tuple[str, str]]:
    """``(where, name)`` of every parameter the space sets."""
    return [(f"parameters.{p.name}", p.name) for p in space.params] + [(f"fixed.{n}", n) for n in space.fixed]


def check_run(space: SearchSpace, info: RunInfo) -> None:
    """Fail before launch when the space does not fit what the template task recorded.

    Raises:
        ConfigError: Names the field and the fix.
    """
    have = sorted(info.searchable() - {HYDRA_EDIT})
    for where, name in _named(space):
        section = name.split("/", 1)[0]
        if section in info.configurations or name in info.configurations:
            instead = f"{HYDRA_SECTION}/<key> overrides such as " if section == HYDRA_CONFIG else ""
            raise ConfigError(
                f"{space.path}: {where}: {section!r} is a configuration object (connect_configuration), which a"
                f" search cannot set; fix: search {instead}the run's parameters: {', '.join(have) or 'none'}"
                " (or connect those values with task.connect(dict))"
            )
    _check_hydra(space, info)
    missing = [(where, name) for where, name in _named(space) if name not in info.searchable()]
    if missing:
        raise ConfigError(
            f"{space.path}: {missing[0][0]}: template {space.template!r} has no such parameter;"
            f" use one of its parameters: {', '.join(have) or 'none'}"
        )
    _check_reported(space, info)


def _check_hydra(space: SearchSpace, info: RunInfo) -> None:
    overrides = [(w, n) for w, n in _named(space) if n.startswith(HYDRA_SECTION + "/") and n != HYDRA_EDIT]
    if not overrides:
        return
    where, name = overrides[0]
    value = space.fixed.get(HYDRA_EDIT, info.params.get(HYDRA_EDIT))
    if value is None:
        raise ConfigError(
            f"{space.path}: {where}: template {space.template!r} has no {HYDRA_EDIT}, so it was not recorded by"
            " ClearML's Hydra binding and Hydra/ overrides would not reach the script; fix: call Task.init inside"
            " the function decorated with @hydra.main and run the script again"
        )
    if str(value).strip().lower() not in ("false", "0"):
        raise ConfigError(
            f"{space.path}: {where}: template {space.template!r} has {HYDRA_EDIT} = {value}, so ClearML ignores"
            f" the Hydra/ section and every trial would run the same configuration; fix: add `{HYDRA_EDIT}: false`"
            " under fixed:"
        )


def _check_reported(space: SearchSpace, info: RunInfo) -> None:
    if not info.metrics:
        return  # a draft never run (a shipped template) or a run that reported nothing: nothing to check against
    reported = ", ".join(m.name for m in info.metrics)
    for objective in space.objectives:
        metric = info.metric(objective.title, objective.series)
        if metric is None:
            raise ConfigError(
                f"{space.path}: objective: template {space.template!r} never reported"
                f" {objective.title}/{objective.series}; fix: pick one it reported: {reported}"
            )
        if space.pruner.name in MULTI_FIDELITY and metric.iterations <= 1:
            raise ConfigError(
                f"{space.path}: pruner: {space.pruner.name!r} stops trials on the objective's intermediate values, but"
                f" template {space.template!r} reported {metric.name} at a single iteration: nothing to prune;"
                " fix: set `pruner: none`, or report the objective every epoch (iteration=epoch)"
            )


__all__ = ["MULTI_FIDELITY", "GroupsFn", "check_run", "preflight", "values_of"]
