"""What a base task promises, read from two literals beside its ``DEFAULTS`` (the script is not run).

::

    REPORTS = {"validation/accuracy": "", "cv/accuracy": "cv_folds"}
    LIMITS = {"train_subsample": {"above": 0.0, "max": 1.0}, "cv_folds": {"min": 2, "max": "groups", "off": 0}}

``REPORTS`` names every scalar (``title/series``) the script reports, each with the argument that
switches it off when set to its ``off`` value (``""``: always reported). ``LIMITS`` gives the values
an argument takes: ``min``/``max`` (inclusive), ``above``/``below`` (exclusive) and ``off`` (one more
value that switches a feature off). A bound may be ``"groups"``: the number of distinct groups in
train+validation of the dataset version a task reads. ``hpo search`` checks a space against these
before it launches anything (:mod:`hpo.search._preflight`); the script checks its arguments again
when it runs, for the hand-run case.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import ConfigError

GROUPS = "groups"  # a bound that depends on the data: distinct groups in train+validation
_BOUNDS = ("min", "max", "above", "below")


@dataclass(frozen=True)
class Limit:
    """The values one argument takes; see the module docstring."""

    bounds: Mapping[str, float | str] = field(default_factory=dict)
    off: Any = None

    @property
    def needs_groups(self) -> bool:
        return GROUPS in self.bounds.values()

    def is_off(self, value: Any) -> bool:
        """Whether ``value`` is the one that switches the feature off (compared as numbers where it can)."""
        return self.off is not None and _same(value, self.off)

    def describe(self, groups: int | None = None) -> str:
        """The range in words, e.g. ``[2, groups (273)], or 0 (off)``."""

        def show(bound: float | str) -> str:
            return f"{bound} ({groups:,})" if bound == GROUPS and groups is not None else str(bound)

        bounds = self.bounds
        low = next((f"{'[' if k == 'min' else '('}{show(bounds[k])}" for k in ("min", "above") if k in bounds), "(-inf")
        high = next((f"{show(bounds[k])}{']' if k == 'max' else ')'}" for k in ("max", "below") if k in bounds), "inf)")
        return f"{low}, {high}" + (f", or {self.off!r} (off)" if self.off is not None else "")

    def violation(self, value: Any, groups: Callable[[], int]) -> str | None:
        """Why ``value`` is outside the range (None when it is inside); ``groups`` is asked only when needed."""
        if self.is_off(value):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return f"{value!r} is not a number"
        if math.isnan(number):
            return "NaN is not a number"
        for kind, bound in self.bounds.items():
            limit = float(groups()) if bound == GROUPS else float(bound)
            bad = {
                "min": number < limit,
                "max": number > limit,
                "above": number <= limit,
                "below": number >= limit,
            }[kind]
            if bad:
                words = {"min": "below", "max": "above", "above": "not above", "below": "not below"}[kind]
                where = f"the {int(limit):,} groups in train+validation" if bound == GROUPS else f"{bound}"
                return f"{value!r} is {words} {where}"
        return None


@dataclass(frozen=True)
class Contract:
    """A base task's ``REPORTS`` and ``LIMITS`` (empty when it declares none)."""

    reports: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, Limit] = field(default_factory=dict)

    def switch_of(self, metric: str) -> str | None:
        """The argument that switches ``metric`` off ("" when none); None when the metric is not reported."""
        return self.reports.get(metric)


def _same(value: Any, other: Any) -> bool:
    try:
        return float(value) == float(other)
    except (TypeError, ValueError):
        return str(value) == str(other)


def parse_contract(reports: Any, limits: Any, where: str) -> Contract:
    """A :class:`Contract` from the two literals' values (``None`` for an absent one).

    Raises:
        ConfigError: A literal is not in the documented shape.
    """
    if reports is None:
        reports = {}
    if limits is None:
        limits = {}
    if not isinstance(reports, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in reports.items()):
        raise ConfigError(f'{where}: REPORTS must map "title/series" to the argument that switches it off, or ""')
    if any(k.count("/") != 1 for k in reports):
        raise ConfigError(f'{where}: REPORTS keys are "title/series", got {sorted(reports)}')
    if not isinstance(limits, dict):
        raise ConfigError(f"{where}: LIMITS must map an argument to its range, e.g. {{'k': {{'min': 2}}}}")
    parsed: dict[str, Limit] = {}
    for name, spec in limits.items():
        if not isinstance(spec, dict) or not set(spec) <= {*_BOUNDS, "off"}:
            raise ConfigError(f"{where}: LIMITS[{name!r}] takes only {', '.join(_BOUNDS)} and off; got {spec!r}")
        bounds = {k: v for k, v in spec.items() if k != "off"}
        if not all(v == GROUPS or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in bounds.values()):
            raise ConfigError(f"{where}: LIMITS[{name!r}] bounds are numbers or {GROUPS!r}; got {spec!r}")
        parsed[name] = Limit(bounds, spec.get("off"))
    for switch in reports.values():
        if switch and switch not in parsed:
            raise ConfigError(f"{where}: REPORTS names {switch!r} as a switch; give it LIMITS with an `off` value")
    return Contract(dict(reports), parsed)


__all__ = ["GROUPS", "Contract", "Limit", "parse_contract"]
