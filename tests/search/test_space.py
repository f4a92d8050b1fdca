"""Search spaces: validation errors name the file, the field, the bad value and the fix."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from hpo.errors import ConfigError
from hpo.search._sampling import make_sampler, suggest
from hpo.search._space import check_template_parameters, load_space, with_overrides
from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out

BASE = {
    "template": "curve",
    "objective": {"title": "validation", "series": "score", "direction": "max"},
    "parameters": {"General/x": {"type": "float", "low": 0.0, "high": 1.0}},
}


def _write(tmp_path: Path, **changes: object) -> Path:
    doc = {**BASE, **changes}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("name", ["tfidf", "bert", "bert-quick"])
def test_shipped_spaces_are_valid(name: str) -> None:
    space = load_space(name)
    assert space.name == name and space.params


@pytest.mark.parametrize(
    ("params", "field", "value", "fix"),
    [
        (
            {"General/x": {"type": "uniform", "low": 0, "high": 1}},
            "parameters.General/x.type",
            "'uniform'",
            "log-float",
        ),
        ({"General/x": {"type": "float", "low": 2, "high": 1}}, "parameters.General/x", "low=2", "low < high"),
        (
            {"General/x": {"type": "categorical", "choices": []}},
            "parameters.General/x.choices",
            "[]",
            "list the values",
        ),
        ({"General/x": {"type": "log-float", "low": 0, "high": 1}}, "parameters.General/x.low", "low=0", "low > 0"),
        ({"x": {"type": "float", "low": 0, "high": 1}}, "parameters.x", "'x'", "General/x"),
        ({"General/x": {"type": "stepped", "low": 0, "high": 1}}, "parameters.General/x.step", "None", "finite number"),
        (
            {"General/a": {"type": "int", "low": 0, "high": 3, "when": {"General/b": 1}}},
            "parameters.General/a.when.General/b",
            "'General/b'",
            "parameter above",
        ),
    ],
)
def test_bad_parameters_name_file_field_value_and_fix(
    tmp_path: Path, params: dict, field: str, value: str, fix: str
) -> None:
    path = _write(tmp_path, parameters=params)
    with pytest.raises(ConfigError) as err:
        load_space(path)
    message = str(err.value)
    assert str(path) in message and field in message and value in message and fix in message, message


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"sampler": "bayes"}, "sampler: unknown value 'bayes'; choose one of: tpe"),
        ({"pruner": "early"}, "pruner: unknown value 'early'"),
        ({"objective": {"title": "validation", "series": "score", "direction": "up"}}, "objective.direction"),
        ({"trials": 0}, "trials: must be at least 1, got 0"),
        ({"bogus": 1}, "bogus: unknown field"),
        ({"sampler": "grid"}, "grid sampler needs discrete parameters"),
        ({"fixed": {"General/x": 0.5}}, "fixed.General/x: is also a searched parameter"),
        ({"fixed": {"General/y": [1, 2]}}, r"fixed.General/y: expected one plain value, got [1, 2]"),
        ({"fixed": [1]}, "fixed: expected a mapping"),
    ],
)
def test_bad_top_level_fields(tmp_path: Path, changes: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        load_space(_write(tmp_path, **changes))


def test_unknown_space_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="tfidf"):
        load_space("no-such-space")


def test_template_parameters_are_checked(tmp_path: Path) -> None:
    space = load_space(_write(tmp_path))
    check_template_parameters(space, {"General/x": "0.5"})
    with pytest.raises(ConfigError, match=r"parameters\.General/x: template 'curve' has no such parameter"):
        check_template_parameters(space, {"General/lr": "0.1"})
    fixed = load_space(_write(tmp_path, fixed={"General/iterations": 2}))
    with pytest.raises(ConfigError, match=r"fixed\.General/iterations: template 'curve' has no such parameter"):
        check_template_parameters(fixed, {"General/x": "0.5"})


def test_overrides_are_validated(tmp_path: Path) -> None:
    space = load_space(_write(tmp_path))
    assert with_overrides(space, trials=7, sampler="random").trials == 7
    with pytest.raises(ConfigError, match="--sampler 'annealing' is unknown"):
        with_overrides(space, sampler="annealing")


def test_conditional_parameters_are_sampled_only_when_their_condition_holds(tmp_path: Path) -> None:
    params = {
        "General/kind": {"type": "categorical", "choices": ["a", "b"]},
        "General/only_a": {"type": "int", "low": 1, "high": 3, "when": {"General/kind": "a"}},
        "General/step": {"type": "stepped", "low": 0.0, "high": 1.0, "step": 0.25},
    }
    space = load_space(_write(tmp_path, parameters=params, sampler={"name": "random", "seed": 3}))
    study = optuna.create_study(sampler=make_sampler(space))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        config = suggest(trial, space)
        assert ("General/only_a" in config) == (config["General/kind"] == "a")
        assert config["General/step"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        seen.add(config["General/kind"])
        study.tell(trial, 0.0)
    assert seen == {"a", "b"}


def test_bad_space_fails_before_any_task_is_created(search_env: SearchEnv) -> None:
    bad = search_env.space(name="bad", parameters={"General/x": {"type": "float", "low": 1, "high": 0}})
    proc = search_env.hpo("search", str(bad), "--local-workers", "0")
    assert proc.returncode == 1 and "[error]" in proc.stderr and "low < high" in proc.stderr
    unknown = search_env.space(name="unknown", parameters={"General/nope": {"type": "float", "low": 0, "high": 1}})
    proc = search_env.hpo("search", str(unknown), "--local-workers", "0")
    assert proc.returncode == 1 and "General/nope" in proc.stderr and "General/x" in proc.stderr
    assert search_env.trials() == []
