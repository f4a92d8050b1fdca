"""An objective's value rule (``value: last | min | max``): what a trial's value is, what the pruner sees,
how the study records it, and that studies recorded before the rule existed still load."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from hpo.errors import ConfigError
from hpo.search._space import load_space
from hpo.search._trials import TaskState, objective_points
from hpo.study import Objective, StudyAttr, objectives_of

METRICS = {
    "a": {"b": {"metric": "validation", "variant": "loss", "value": 0.4, "min_value": 0.2, "max_value": 0.9}},
    "c": {"d": {"metric": "validation", "variant": "loss_se", "value": 0.01, "min_value": 0.01, "max_value": 0.01}},
}


@pytest.mark.parametrize(("rule", "expected"), [("last", 0.4), ("min", 0.2), ("max", 0.9)])
def test_task_state_objective_value_follows_the_rule(rule: str, expected: float) -> None:
    state = TaskState("t", "completed", "", "", 3, METRICS)
    assert state.objective_value(Objective("validation", "loss", "min", rule)) == expected
    assert state.objective_value(Objective("validation", "other", "min", rule)) is None


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("last", [(0, 0.5), (1, 0.3), (2, 0.4)]),
        ("min", [(0, 0.5), (1, 0.3), (2, 0.3)]),
        ("max", [(0, 0.5), (1, 0.5), (2, 0.5)]),
    ],
)
def test_objective_points_feed_the_pruner_the_running_best_for_min_and_max(
    rule: str, expected: list[tuple[int, float]]
) -> None:
    assert objective_points([(2, 0.4), (0, 0.5), (1, 0.3)], rule) == expected


def test_objective_attr_round_trips_and_last_keeps_the_old_three_elements() -> None:
    last = Objective("validation", "accuracy", "max")
    assert last.as_attr() == ["validation", "accuracy", "max"] and last.label == "validation/accuracy"
    best = Objective("validation", "loss", "min", "min")
    assert best.as_attr() == ["validation", "loss", "min", "min"] and best.label == "min of validation/loss"
    assert Objective.from_attr(best.as_attr()) == best and Objective.from_attr(last.as_attr()) == last


def test_a_study_recorded_before_the_value_rule_loads_with_last() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_user_attr(StudyAttr.OBJECTIVES, [["validation", "accuracy", "max"], ["validation", "loss", "min", "max"]])
    assert [o.value for o in objectives_of(study)] == ["last", "max"]


def _space(tmp_path: Path, objective: object) -> Path:
    params = {"General/x": {"type": "float", "low": 0, "high": 1}}
    doc = {"template": "curve", "objective": objective, "parameters": params}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_space_objective_value_defaults_to_last_and_reads_min_or_max(tmp_path: Path) -> None:
    assert load_space(_space(tmp_path, {"title": "v", "series": "s"})).objective.value == "last"
    space = load_space(_space(tmp_path, {"title": "v", "series": "s", "direction": "min", "value": "min"}))
    assert space.objective == Objective("v", "s", "min", "min")


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({"title": "v", "series": "s", "value": "best"}, r"objective\.value: unknown value 'best'; write `last`"),
        ({"title": "v", "series": "s", "values": "max"}, r"objective\.values: not a field of an objective; use only"),
    ],
)
def test_space_objective_value_bad_input_names_the_field_and_the_fix(
    tmp_path: Path, objective: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_space(_space(tmp_path, objective))
