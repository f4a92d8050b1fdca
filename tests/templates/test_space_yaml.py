"""``hpo space init``'s writer, as pure functions: a space from a recorded run loads as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.search._space import load_space
from hpo.search._space_init import guess_direction, space_yaml, typed
from hpo.templates._introspect import HYDRA_EDIT, Argument, Metric, RunInfo
from hpo.templates._user import last_lines


def _metric(title: str, series: str, iterations: int = 3) -> Metric:
    return Metric(title, series, 0.5, 0.1, 0.9, iterations)


@pytest.mark.parametrize(
    ("title", "series", "direction"),
    [
        ("validation", "accuracy", "max"),
        ("eval", "f1", "max"),
        ("test", "AUC", "max"),
        ("train", "loss", "min"),
        ("val", "error_rate", "min"),
        ("misc", "speed", None),
    ],
)
def test_guess_direction_from_the_name(title: str, series: str, direction: str | None) -> None:
    assert guess_direction(_metric(title, series)) == direction


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        (Argument("Args/lr", "0.001", "float"), 0.001),
        (Argument("Args/n", "3", "int"), 3),
        (Argument("Args/flag", "False", "bool"), False),
        (Argument("Args/name", "12", "str"), "12"),
        (Argument("General/x", "1e-05"), 1e-05),
        (Argument("General/x", "[1, 2]"), "[1, 2]"),
    ],
)
def test_typed_reads_the_recorded_type(argument: Argument, value: object) -> None:
    assert typed(argument) == value and type(typed(argument)) is type(value)


def test_space_from_a_run_loads_as_written(tmp_path: Path) -> None:
    info = RunInfo(
        id="abc",
        name="my run",
        project="P",
        status="completed",
        arguments=(
            Argument("Args/lr", "1e-05", "float"),
            Argument("Args/momentum", "0.0", "float"),
            Argument("Args/offset", "-2.0", "float"),
            Argument("Args/epochs", "1", "int"),
            Argument("Args/seed", "0", "int"),
            Argument("Args/out", "", "str"),
            Argument("my section/data path", "/data/x y", "str"),
            Argument("properties/owner", "me", "str"),
        ),
        configurations=("train config",),
        metrics=(_metric("time", "speed"), _metric("train", "loss", iterations=1)),
    )
    path = tmp_path / "space.yaml"
    path.write_text(space_yaml(info, {"task": "abc", "key": "my-run"}))
    space = load_space(path)
    text = path.read_text()
    assert space.template == "my-run" and space.template_source is not None and space.template_source.task == "abc"
    params = {p.name: (p.kind, p.low, p.high) for p in space.params}
    assert params == {
        "Args/lr": ("log-float", 1e-06, 1e-04),
        "Args/momentum": ("float", 0.0, 1.0),
        "Args/offset": ("float", -20.0, -0.2),
        "Args/epochs": ("int", 1, 2),
        "Args/seed": ("int", -1, 1),
    }
    assert space.fixed == {"my section/data path": "/data/x y"}
    assert "# Args/out: (empty in the run: not searched)" in text and "properties/owner" not in text
    assert (space.objective.title, space.objective.series, space.objective.direction) == ("train", "loss", "min")
    assert "#   time / speed: last 0.5, min 0.1, max 0.9, 3 iteration(s)" in text
    assert "nothing to prune" in text and "Configuration objects (train config) cannot be searched" in text


def test_space_from_a_hydra_run_searches_its_config_not_hydras_command_line(tmp_path: Path) -> None:
    info = RunInfo(
        "abc",
        "r",
        "P",
        "completed",
        (Argument("Args/config_name", "config", "str"), Argument(HYDRA_EDIT, "False", "bool")),
        ("OmegaConf",),
        hydra={"Hydra/model.depth": 3, "Hydra/lr": 0.1},
        metrics=(_metric("validation", "accuracy"),),
    )
    path = tmp_path / "space.yaml"
    path.write_text(space_yaml(info, {"task": "abc", "key": "r"}))
    space = load_space(path)
    assert [p.name for p in space.params] == ["Hydra/model.depth", "Hydra/lr"] and not space.fixed


def test_space_from_a_run_without_metrics_names_a_placeholder(tmp_path: Path) -> None:
    info = RunInfo("abc", "r", "P", "completed", (Argument("General/x", "2", "int"),), ())
    path = tmp_path / "space.yaml"
    path.write_text(space_yaml(info, {"task": "abc", "key": "r"}))
    assert "The run reported no scalars" in path.read_text()
    assert load_space(path).objective.series == "accuracy"


def test_last_lines_end_at_the_exception_of_a_traceback() -> None:
    console = (
        "a\nTraceback (most recent call last):\n  File 'x.py', line 1\nValueError: bad\nlater log 1\nlater log 2\n"
    )
    assert last_lines(console, count=3) == [
        "Traceback (most recent call last):",
        "  File 'x.py', line 1",
        "ValueError: bad",
    ]
    assert last_lines("one\ntwo\nthree\n", count=2) == ["two", "three"]


def test_last_lines_skip_a_shutdown_system_error_after_the_scripts_own_traceback() -> None:
    console = (
        "Traceback (most recent call last):\n  File 'x.py', line 6\nRuntimeError: no such file: data.csv\n"
        "Exception in thread:\nTraceback (most recent call last):\n  File '<frozen genericpath>', line 42\n"
        "SystemError: _PyErr_SetObject: exception SystemExit() is not a BaseException subclass\n"
    )
    assert last_lines(console, count=2) == ["  File 'x.py', line 6", "RuntimeError: no such file: data.csv"]
