"""The objectives a study optimises, as the search records them (``objectives`` study attribute)."""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from hpo.errors import ConfigError
from hpo.study._keys import StudyAttr


@dataclass(frozen=True)
class Objective:
    """One reported scalar to optimise: ClearML ``title``/``series``, ``min`` or ``max``."""

    title: str
    series: str
    direction: str

    @property
    def optuna_direction(self) -> str:
        return "minimize" if self.direction == "min" else "maximize"

    @property
    def name(self) -> str:
        return f"{self.title}/{self.series}"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "max" else a < b

    def as_attr(self) -> list[str]:
        """The entry of the ``objectives`` study attribute."""
        return [self.title, self.series, self.direction]


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
    objectives = [Objective(str(o[0]), str(o[1]), str(o[2])) for o in raw]
    if [o.direction for o in objectives] != directions:
        raise ConfigError(
            f"study {study.study_name!r}: objectives {raw} disagree with the study's directions {directions}"
        )
    return objectives


__all__ = ["Objective", "objectives_of"]
