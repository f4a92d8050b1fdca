"""Before launch: a space is checked against what its template reports and which values it takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo.errors import ConfigError
from hpo.search._preflight import preflight
from hpo.search._space import load_space
from hpo.templates import base_tasks_dir, contract_of
from hpo.templates._catalog import read_defaults
from hpo.templates._contract import parse_contract


def _params(key: str) -> dict[str, str]:
    """The template's parameters as a server returns them: ``General/<name>`` -> string."""
    script = base_tasks_dir() / f"{key}.py"
    return {f"General/{k}": str(v) for k, v in read_defaults(script.read_text(), key).items()}


class Groups:
    """A groups count that records whether it was asked."""

    def __init__(self, count: int) -> None:
        self.count, self.asked = count, []

    def __call__(self, name: str, project: str, version: str) -> int:
        self.asked.append((name, project, version))
        return self.count


def _space(tmp_path: Path, key: str, objective: str = "cv/accuracy", **changes: Any) -> Any:
    title, series = objective.split("/")
    doc = {
        "template": key,
        "objective": {"title": title, "series": series, "direction": "max"},
        "parameters": {"General/alpha": {"type": "log-float", "low": 0.01, "high": 3.0}},
        **changes,
    }
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_space(str(path))


@pytest.mark.parametrize("name", ["tfidf", "bert", "bert-quick"])
def test_shipped_spaces_pass(name: str) -> None:
    space = load_space(name)
    groups = Groups(1000)
    preflight(space, contract_of(space.template), _params(space.template), groups)
    # Only TF-IDF's cv_folds is bounded by the data, read once for the template's dataset version.
    assert groups.asked == ([("Amazon reviews dataset", "Amazon reviews", "1.0.0")] if name == "tfidf" else [])


def test_an_objective_the_template_does_not_report_fails(tmp_path: Path) -> None:
    space = _space(tmp_path, "tfidf", objective="validation/acc")
    with pytest.raises(ConfigError) as err:
        preflight(space, contract_of("tfidf"), _params("tfidf"), Groups(1000))
    message = str(err.value)
    assert "objective: template 'tfidf' does not report validation/acc" in message
    assert "fix: pick one it reports:" in message and "validation/accuracy" in message and "cv/accuracy" in message


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"fixed": {"General/cv_folds": 0}}, "fixed.General/cv_folds: 0 switches off cv/accuracy"),
        ({"initial": [{"General/alpha": 1.0, "General/cv_folds": 0}], "fixed": {}}, None),
    ],
)
def test_an_objective_switched_off_fails(tmp_path: Path, changes: dict[str, Any], where: str | None) -> None:
    if where is None:  # initial configurations may only name searched parameters: the space itself refuses it
        with pytest.raises(ConfigError):
            _space(tmp_path, "tfidf", **changes)
        return
    space = _space(tmp_path, "tfidf", **changes)
    with pytest.raises(ConfigError, match="fix: keep General/cv_folds other than 0, or optimise another metric") as err:
        preflight(space, contract_of("tfidf"), _params("tfidf"), Groups(1000))
    assert where in str(err.value)


def test_a_searched_switch_that_can_be_off_fails(tmp_path: Path) -> None:
    space = _space(
        tmp_path,
        "tfidf",
        parameters={"General/cv_folds": {"type": "categorical", "choices": [0, 5]}},
    )
    with pytest.raises(ConfigError, match=r"parameters\.General/cv_folds: 0 switches off cv/accuracy"):
        preflight(space, contract_of("tfidf"), _params("tfidf"), Groups(1000))


def test_more_folds_than_groups_fails_naming_the_count(tmp_path: Path) -> None:
    space = _space(tmp_path, "tfidf", fixed={"General/cv_folds": 40})
    with pytest.raises(ConfigError) as err:
        preflight(space, contract_of("tfidf"), _params("tfidf"), Groups(30))
    message = str(err.value)
    assert "fixed.General/cv_folds: 40 is above the 30 groups in train+validation" in message
    assert "takes cv_folds in [2, groups (30)], or 0 (off)" in message
    assert "fix: keep General/cv_folds in that range" in message
    # At the bound it passes.
    preflight(
        _space(tmp_path, "tfidf", fixed={"General/cv_folds": 30}), contract_of("tfidf"), _params("tfidf"), Groups(30)
    )


def test_the_upper_end_of_a_searched_range_is_checked(tmp_path: Path) -> None:
    space = _space(tmp_path, "tfidf", parameters={"General/cv_folds": {"type": "int", "low": 2, "high": 50}})
    with pytest.raises(ConfigError, match=r"parameters\.General/cv_folds\.high: 50 is above the 20 groups"):
        preflight(space, contract_of("tfidf"), _params("tfidf"), Groups(20))


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"fixed": {"General/train_subsample": 0}}, "fixed.General/train_subsample: 0 is not above 0.0"),
        (
            {"parameters": {"General/train_subsample": {"type": "float", "low": 0.0, "high": 0.5}}},
            "parameters.General/train_subsample.low: 0.0 is not above 0.0",
        ),
        ({"fixed": {"General/train_subsample": 1.5}}, "fixed.General/train_subsample: 1.5 is above 1.0"),
    ],
)
def test_a_subsample_of_zero_fails(tmp_path: Path, changes: dict[str, Any], where: str) -> None:
    space = _space(tmp_path, "bert", objective="validation/accuracy", **changes)
    groups = Groups(1000)
    with pytest.raises(ConfigError) as err:
        preflight(space, contract_of("bert"), _params("bert"), groups)
    assert where in str(err.value)
    assert "template 'bert' takes train_subsample in (0.0, 1.0]" in str(err.value)
    assert groups.asked == []  # nothing of the data is needed for this


def test_the_templates_own_value_is_checked_when_the_space_leaves_it(tmp_path: Path) -> None:
    space = _space(
        tmp_path,
        "bert",
        objective="validation/accuracy",
        parameters={"General/dropout": {"type": "float", "low": 0.0, "high": 0.2}},
    )
    params = {**_params("bert"), "General/train_subsample": "0.0"}  # someone edited the registered template
    with pytest.raises(ConfigError, match="the template's General/train_subsample: '0.0' is not above 0.0"):
        preflight(space, contract_of("bert"), params, Groups(1000))


@pytest.mark.parametrize(
    ("reports", "limits", "problem"),
    [
        ({"accuracy": ""}, {}, 'REPORTS keys are "title/series"'),
        ({"cv/accuracy": "folds"}, {}, "REPORTS names 'folds' as a switch"),
        ({}, {"k": {"least": 2}}, "LIMITS['k'] takes only min, max, above, below and off"),
        ({}, {"k": {"min": "two"}}, "LIMITS['k'] bounds are numbers or 'groups'"),
        ([], {}, "REPORTS must map"),
    ],
)
def test_malformed_declarations_are_refused(reports: Any, limits: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_contract(reports, limits, "script.py")
