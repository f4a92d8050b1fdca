"""``--warm-start``: which tasks are runs of the template, and how their configurations map into the space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from hpo.errors import NotFoundError
from hpo.search._space import SearchSpace, load_space
from hpo.search._warm import (
    Skipped,
    TemplateInfo,
    WarmStart,
    WarmTrial,
    add_warm_start,
    is_template_run,
    split_source,
    to_trial,
)

TEMPLATE = TemplateInfo(
    key="curve",
    name="curve",
    entry_point="curve.py",
    params={"General/x": "0.5", "General/k": "1", "General/kind": "a", "General/iterations": "3"},
)


def _space(tmp_path: Path) -> SearchSpace:
    doc = {
        "template": "curve",
        "objective": {"title": "validation", "series": "score", "direction": "max"},
        "fixed": {"General/iterations": 3},
        "parameters": {
            "General/x": {"type": "float", "low": 0.0, "high": 1.0},
            "General/kind": {"type": "categorical", "choices": ["a", "b", True]},
            "General/k": {"type": "int", "low": 1, "high": 9, "step": 2, "when": {"General/kind": "b"}},
        },
    }
    path = tmp_path / "curve.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))  # `when:` names a parameter above it
    return load_space(path)


def _row(task_id: str = "t1", name: str = "curve", entry: str = "curve.py", tags: Any = (), **params: Any) -> Any:
    values = {"x": "0.25", "k": "1", "kind": "a", "iterations": "3", **params}
    return {
        "id": task_id,
        "name": name,
        "tags": list(tags),
        "status": "completed",
        "script": {"entry_point": entry},
        "hyperparams": {
            "General": {k: {"section": "General", "name": k, "value": v} for k, v in values.items() if v is not None},
            "Datasets": {"dataset": {"value": "some-id"}},
        },
        "last_metrics": {
            "m1": {
                "v1": {"metric": "validation", "variant": "score", "value": 0.9},
                "v2": {"metric": "validation", "variant": "score_se", "value": 0.01},
            }
        },
    }


def test_template_runs_are_told_by_script_and_name_or_template_tag() -> None:
    assert is_template_run(_row(), TEMPLATE)
    assert is_template_run(_row(entry="base_tasks/curve.py"), TEMPLATE)  # run from the repository root
    assert is_template_run(_row(name="curve [curve #3]", tags=["template:curve", "trial:3"]), TEMPLATE)
    assert is_template_run(_row(name="curve [curve #4]", tags=["from-template:curve", "trial:4"]), TEMPLATE)
    assert not is_template_run(_row(name="curve [x #4]", tags=["from-template:other", "trial:4"]), TEMPLATE)
    assert not is_template_run(_row(name="curve [x #3]"), TEMPLATE)  # renamed, not a clone of the template
    assert not is_template_run(_row(entry="other.py"), TEMPLATE)
    assert not is_template_run(_row(entry=""), TEMPLATE)  # the optimizer task: no script


def test_a_task_in_the_space_becomes_a_trial(tmp_path: Path) -> None:
    space = _space(tmp_path)
    trial = to_trial(_row(), space, TEMPLATE)
    assert trial == WarmTrial("t1", {"General/x": 0.25, "General/kind": "a"}, [0.9], se=0.01)
    # k is searched only when kind is b: then it must be there and on its step
    trial = to_trial(_row(kind="b", k="5"), space, TEMPLATE)
    assert isinstance(trial, WarmTrial) and trial.params == {"General/x": 0.25, "General/kind": "b", "General/k": 5}
    assert to_trial(_row(kind="True"), space, TEMPLATE).params["General/kind"] is True  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"x": "1.5"}, "General/x='1.5' is outside [0, 1]"),
        ({"x": "abc"}, "General/x='abc' is not a number"),
        ({"x": None}, "no General/x"),
        ({"kind": "c"}, "General/kind='c' is not among the choices ['a', 'b', True]"),
        ({"kind": "b", "k": "4"}, "General/k='4' is not on the step 2 from 1"),
        ({"kind": "b", "k": "2.5"}, "General/k='2.5' is not an integer"),
        ({"iterations": "5"}, "General/iterations='5', the search fixes '3'"),
    ],
)
def test_a_task_outside_the_space_is_skipped_with_the_reason(tmp_path: Path, params: dict[str, Any], why: str) -> None:
    skipped = to_trial(_row(**params), _space(tmp_path), TEMPLATE)
    assert skipped == Skipped("t1", "curve", why)


def test_other_template_arguments_must_keep_the_search_values(tmp_path: Path) -> None:
    template = TemplateInfo("curve", "curve", "curve.py", {**TEMPLATE.params, "General/dataset_version": "1.0.0"})
    skipped = to_trial(_row(dataset_version="2.0.0"), _space(tmp_path), template)
    assert isinstance(skipped, Skipped)
    assert skipped.why == "General/dataset_version='2.0.0', the search leaves at the template's default '1.0.0'"
    missing = to_trial(_row(), _space(tmp_path), template)
    assert isinstance(missing, Skipped) and missing.why.startswith("no General/dataset_version")
    assert isinstance(to_trial(_row(dataset_version="1.0.0"), _space(tmp_path), template), WarmTrial)


def test_a_task_without_the_objective_is_skipped(tmp_path: Path) -> None:
    row = _row()
    row["last_metrics"] = {}
    assert to_trial(row, _space(tmp_path), TEMPLATE) == Skipped("t1", "curve", "reported no validation/score")


def test_split_source_prefers_the_whole_name_as_a_project() -> None:
    projects = {"P", "P/sub"}
    assert split_source("P", projects.__contains__) == ("P", None)
    assert split_source("P/sub", projects.__contains__) == ("P/sub", None)
    assert split_source("P/best", projects.__contains__) == ("P", "best")
    assert split_source("P/sub/best", projects.__contains__) == ("P/sub", "best")
    with pytest.raises(NotFoundError, match=r"no ClearML project 'Q/x' \(nor project 'Q' with tag 'x'\)"):
        split_source("Q/x", projects.__contains__)


def test_warm_trials_join_the_study_once_and_are_not_launched(tmp_path: Path) -> None:
    space = _space(tmp_path)
    study = optuna.create_study(direction="maximize")
    warm = WarmStart("P", "P", None, tasks=2, of_template=2)
    warm.trials = [WarmTrial("t1", {"General/x": 0.25, "General/kind": "a"}, [0.9], se=0.01)]
    assert add_warm_start(study, space, warm) == 1
    [trial] = study.get_trials()
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.value == 0.9
    assert trial.user_attrs == {"state": "warm-start", "warm_start_task_id": "t1", "objective_se": 0.01}
    assert study.user_attrs["warm_start"]["added"] == ["t1"]
    again = WarmStart("P", "P", None, trials=[WarmTrial("t1", {"General/x": 0.25, "General/kind": "a"}, [0.9])])
    assert add_warm_start(study, space, again) == 0 and again.already == 1 and len(study.get_trials()) == 1
    assert "no completed task of template 'curve' in project 'P' (1 already in the study)" in again.message("curve")
