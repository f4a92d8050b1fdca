"""One searched parameter, and everything that depends on its kind.

A :class:`Param` is the only place that dispatches on ``kind`` (as optuna's
``distributions.py`` does): the Optuna distribution it is sampled from, the ClearML range the
optimizer task shows, the values a search could give it (for the checks before launch), and
its stored text read back from a task (warm start). Everyone else asks the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna

KINDS = ("float", "log-float", "int", "log-int", "categorical", "stepped")


@dataclass(frozen=True)
class Param:
    """One searched parameter, named as ClearML names it (``General/alpha``)."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def integer(self) -> bool:
        """Whether its values are whole numbers."""
        return self.kind in ("int", "log-int")

    @property
    def continuous(self) -> bool:
        """Whether it has values a grid cannot list."""
        return self.kind in ("float", "log-float", "log-int")

    def grid_values(self) -> list[Any]:
        """Every value of a discrete parameter (for the grid sampler)."""
        if self.kind == "categorical":
            return list(self.choices)
        low, high = self._range()
        step = self.step or 1
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        values = [low + i * step for i in range(count)]
        return [int(v) for v in values] if self.kind == "int" else [round(v, 12) for v in values]

    def distribution(self, grid: bool = False) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution it is sampled from (a grid samples every discrete value)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if grid or self.kind == "categorical":
            return CategoricalDistribution(self.grid_values() if grid else list(self.choices))
        low, high = self._range()
        if self.integer:
            return IntDistribution(int(low), int(high), step=int(self.step or 1), log=self.kind == "log-int")
        if self.kind == "stepped":
            return FloatDistribution(low, high, step=self.step)
        return FloatDistribution(low, high, log=self.kind == "log-float")

    def suggest(self, trial: optuna.Trial, grid: bool = False) -> Any:
        """Sample its value for ``trial`` (define-by-run)."""
        dist = self.distribution(grid)
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            return trial.suggest_categorical(self.name, list(dist.choices))
        if isinstance(dist, optuna.distributions.IntDistribution):
            return trial.suggest_int(self.name, dist.low, dist.high, step=dist.step, log=dist.log)
        assert isinstance(dist, optuna.distributions.FloatDistribution)
        return trial.suggest_float(self.name, dist.low, dist.high, step=dist.step, log=dist.log)

    def clearml_range(self) -> Any:
        """Its ClearML ``Parameter`` range: what the optimizer task shows in the web UI."""
        from clearml.automation import parameters as p

        if self.kind == "categorical":
            return p.DiscreteParameterRange(self.name, values=list(self.choices))
        low, high = self._range()
        if self.kind == "log-float":
            return p.LogUniformParameterRange(self.name, math.log10(low), math.log10(high))
        if self.integer:
            return p.UniformIntegerParameterRange(self.name, int(low), int(high))
        return p.UniformParameterRange(self.name, low, high, step_size=self.step)

    def ends(self) -> list[tuple[str | None, Any]]:
        """``(field, value)`` for the values that bound what a search gives it: each choice (field
        ``None``), else the ``low`` and ``high`` ends of its range."""
        if self.kind == "categorical":
            return [(None, choice) for choice in self.choices]
        low, high = self._range()
        return [("low", int(low) if self.integer else low), ("high", int(high) if self.integer else high)]

    def parse(self, raw: str) -> tuple[Any, str | None]:
        """Its stored text (as a ClearML task holds it) as the value the sampler would give, or what is
        wrong with it."""
        if self.kind == "categorical":
            for choice in self.choices:
                if same_text(raw, stored_text(choice)) or same_text(raw, str(choice)):
                    return choice, None
            return None, f"is not among the choices {list(self.choices)}"
        try:
            number = float(raw)
        except ValueError:
            return None, "is not a number"
        low, high = self._range()
        if not math.isfinite(number) or not low <= number <= high:
            return None, f"is outside [{low:g}, {high:g}]"
        if self.integer and not number.is_integer():
            return None, "is not an integer"
        if self.step:
            steps = (number - low) / self.step
            if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
                return None, f"is not on the step {self.step:g} from {low:g}"
            if not self.integer:  # the grid point itself, as the sampler gives it (0.30000000000000004 is 0.3)
                number = self.grid_values()[round(steps)]
        return (int(number) if self.integer else float(number)), None

    def _range(self) -> tuple[float, float]:
        assert self.low is not None and self.high is not None, f"{self.kind} parameter {self.name} has a range"
        return self.low, self.high


def stored_text(value: Any) -> str:
    """A value as ClearML stores a parameter (text): what a clone's override is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return str(value)


def same_text(a: str, b: str) -> bool:
    """Whether two stored parameter texts mean the same value (``1`` is ``1.0``, ``true`` is ``True``)."""
    if a == b:
        return True
    if a.lower() in ("true", "false") or b.lower() in ("true", "false"):
        return a.lower() == b.lower()
    try:
        return float(a) == float(b)
    except ValueError:
        return False


__all__ = ["KINDS", "Param", "same_text", "stored_text"]
