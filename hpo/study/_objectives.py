"""The objectives a study optimises, as the search records them (``objectives`` study attribute)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from hpo.errors import ConfigError
from hpo.study._keys import StudyAttr

VALUE_RULES = ("last", "min", "max")  # which of a series' reports is a trial's value (ClearML's last_metrics)


@dataclass(frozen=True)
class Objective:
    """One reported scalar to optimise: ClearML ``title``/``series``, ``min`` or ``max``.

    ``value`` says which report of the series is the trial's value: ``last`` (the default), or the
    series' ``min`` or ``max`` over all its reports (ClearML's ``min_global``/``max_global``).
    """

    title: str
    series: str
    direction: str
    value: str = "last"

    @property
    def optuna_direction(self) -> str:
        return "minimize" if self.direction == "min" else "maximize"

    @property
    def name(self) -> str:
        return f"{self.title}/{self.series}"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "max" else a < b

    @property
    def label(self) -> str:
        """``validation/accuracy``, or ``max of validation/accuracy`` when the value is not the last report."""
        return self.name if self.value == "last" else f"{self.value} of {self.name}"

    def as_attr(self) -> list[str]:
        """The entry of the ``objectives`` study attribute (3 elements for ``last``, as older studies have)."""
        head = [self.title, self.series, self.direction]
        return head if self.value == "last" else [*head, self.value]

    @classmethod
    def from_attr(cls, raw: Sequence[Any]) -> Objective:
        """An entry of the ``objectives`` study attribute: ``[title, series, direction[, value]]``."""
        return cls(str(raw[0]), str(raw[1]), str(raw[2]), str(raw[3]) if len(raw) > 3 else "last")


def objectives_of(study: optuna.Study) -> list[Objective]:
    """The study's objectives from its ``objectives`` user attribute (``[[title, series, max|min]]``).

    Raises:
        ConfigError: The attribute is missing or does not match the study's directions.
    """
    raw = study.user_attrs.get(StudyAttr.OBJECTIVES)
    directions = ["max" if d == optuna.study.StudyDirection.MAXIMIZE else "min" for d in study.directions]
    if not raw:
        raise ConfigError(
            f"study {study.study_name!r} has no 'objectives' user attribute (a list of [title, series, max|min]);"
            " it was not made by `hpo search`: set it with study.set_user_attr('objectives', ...)"
        )
    objectives = [Objective.from_attr(o) for o in raw]
    if [o.direction for o in objectives] != directions:
        raise ConfigError(
            f"study {study.study_name!r}: objectives {raw} disagree with the study's directions {directions}"
        )
    return objectives


__all__ = ["VALUE_RULES", "Objective", "objectives_of"]
