"""Checks of a space against what its template promises, before anything is launched.

A base task declares the scalars it reports and the ranges of its arguments
(:mod:`hpo.templates._contract`). Every value a search could give a checked argument is tried: a
``fixed`` value, the ends of a searched range (or each choice), each ``initial`` configuration and,
for arguments the space leaves alone, the template's own value. An objective the template does not
report, or reports only when a switch the space may turn off is on, fails here too. Templates the
suite does not ship declare nothing, and are not checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hpo.errors import ConfigError
from hpo.search._space import SearchSpace
from hpo.templates._contract import Contract

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


__all__ = ["GroupsFn", "preflight", "values_of"]
