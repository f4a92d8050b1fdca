"""A search parameter owns its kind: Optuna distribution, ClearML range, range ends, stored text read back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from clearml.automation import parameters as p
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.search._param import Param, same_text, stored_text
from hpo.search._space import load_space

LOG_FLOAT = Param("General/alpha", "log-float", low=0.001, high=10.0)
FLOAT = Param("General/x", "float", low=0.0, high=1.0)
INT = Param("General/n", "int", low=1, high=5)
LOG_INT = Param("General/m", "log-int", low=1, high=64)
STEPPED = Param("General/df", "stepped", low=0.5, high=1.0, step=0.1)
CHOICE = Param("General/kind", "categorical", choices=("word", "char", True))


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        (LOG_FLOAT, FloatDistribution(0.001, 10.0, log=True)),
        (FLOAT, FloatDistribution(0.0, 1.0)),
        (INT, IntDistribution(1, 5)),
        (LOG_INT, IntDistribution(1, 64, log=True)),
        (STEPPED, FloatDistribution(0.5, 1.0, step=0.1)),
        (CHOICE, CategoricalDistribution(["word", "char", True])),
    ],
)
def test_param_distribution_per_kind(param: Param, expected: object) -> None:
    assert param.distribution() == expected


def test_param_distribution_on_a_grid_lists_every_value() -> None:
    assert STEPPED.distribution(grid=True) == CategoricalDistribution([0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert INT.distribution(grid=True) == CategoricalDistribution([1, 2, 3, 4, 5])


def test_param_clearml_range_per_kind() -> None:
    log_range = LOG_FLOAT.clearml_range()
    assert isinstance(log_range, p.LogUniformParameterRange)
    assert math.isclose(log_range.min_value, -3.0) and math.isclose(log_range.max_value, 1.0)
    assert isinstance(INT.clearml_range(), p.UniformIntegerParameterRange)
    assert isinstance(LOG_INT.clearml_range(), p.UniformIntegerParameterRange)
    assert STEPPED.clearml_range().step_size == 0.1
    assert isinstance(FLOAT.clearml_range(), p.UniformParameterRange)
    assert CHOICE.clearml_range().values == ["word", "char", True]


def test_param_ends_are_each_choice_or_the_range_ends() -> None:
    assert CHOICE.ends() == [(None, "word"), (None, "char"), (None, True)]
    assert INT.ends() == [("low", 1), ("high", 5)] and isinstance(INT.ends()[0][1], int)
    assert STEPPED.ends() == [("low", 0.5), ("high", 1.0)]


def test_param_parse_reads_stored_text_as_the_sampler_gives_it() -> None:
    space = load_space(Path(__file__).parents[2] / "search_spaces" / "tfidf.yaml")
    assert space.param("General/max_df").parse("0.7000000000000001") == (0.7, None)
    assert space.param("General/ngram_max").parse("2.0") == (2, None)
    assert space.param("General/sublinear_tf").parse("False") == (False, None)
    assert space.param("General/max_features").parse("3000") == (3000, None)
    assert space.param("General/max_df").parse("0.75")[1] == "is not on the step 0.1 from 0.5"


@pytest.mark.parametrize(
    ("param", "raw", "problem"),
    [
        (INT, "2.5", "is not an integer"),
        (INT, "9", "is outside [1, 5]"),
        (FLOAT, "nan", "is outside [0, 1]"),
        (FLOAT, "abc", "is not a number"),
        (CHOICE, "line", "is not among the choices ['word', 'char', True]"),
    ],
)
def test_param_parse_names_what_is_wrong(param: Param, raw: str, problem: str) -> None:
    assert param.parse(raw) == (None, problem)


def test_stored_text_and_same_text() -> None:
    assert stored_text(1.0) == "1.0" and stored_text(True) == "True" and stored_text(3) == "3"
    assert same_text("1", "1.0") and same_text("true", "True") and not same_text("a", "b")
