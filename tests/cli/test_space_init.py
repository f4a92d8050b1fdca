"""``hpo space init`` then ``hpo search``: a user's argparse, task.connect(dict) and Hydra scripts,
searched without an edit (real server, real SDK, real agents).

Each script reports ``validation/accuracy`` (or ``eval/f1``) as a known function of its arguments, so
a trial's value proves that the sampled values reached the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hpo.search._space import load_space
from tests.support.search import SearchEnv
from tests.templates import _scripts
from tests.templates.test_user import hand_run, user_tasks

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def _init(search_env: SearchEnv, *args: str) -> Path:
    out = search_env.root / "space.yaml"
    result = search_env.hpo("space", "init", *args, "-o", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _search(search_env: SearchEnv, space: Path) -> list[dict[str, Any]]:
    summary = search_env.search(space, "--trials", "2", "--local-workers", "2")
    assert summary["state"] == "finished", summary
    trials = search_env.study(summary["study"])
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE"], trials
    return trials


def _copies(search_env: SearchEnv) -> list[dict[str, Any]]:
    return [t for t in user_tasks(search_env.env) if "hpo-template" in (t["tags"] or [])]


def test_argparse_script_space_runs_as_written(search_env: SearchEnv) -> None:
    script = _scripts.write(search_env.root, "train.py", _scripts.ARGPARSE)
    path = _init(search_env, "--script", str(script))
    text = path.read_text()
    assert "#   validation / accuracy: last 0.93, min 0.31, max 0.93, 3 iteration(s)" in text
    assert "direction: max}  # direction: a guess from its name: check it" in text
    space = load_space(path)
    assert space.template == "train" and space.template_source is not None
    assert space.template_source.script == script.resolve()
    kinds = {p.name: (p.kind, p.low, p.high, p.choices) for p in space.params}
    assert kinds == {
        "Args/lr": ("log-float", 0.01, 1.0, ()),
        "Args/depth": ("int", 1, 6, ()),
        "Args/kernel": ("categorical", None, None, ("rbf",)),
        "Args/shuffle": ("categorical", None, None, (False, True)),
    }
    assert space.fixed == {"Args/data_dir": "/tmp/some where/data"}
    assert (space.objective.title, space.objective.series, space.objective.direction) == (
        "validation",
        "accuracy",
        "max",
    )
    [copy] = _copies(search_env)  # space init ran the script once and made its template copy
    for trial in _search(search_env, path):
        lr, depth = trial["params"]["Args/lr"], trial["params"]["Args/depth"]
        assert trial["values"][0] == pytest.approx(1.0 - (lr - 0.3) ** 2 - 0.01 * depth)
    assert [c["id"] for c in _copies(search_env)] == [copy["id"]]  # the search reused it: no second run
    lineage = [t for t in user_tasks(search_env.env) if "from-template:train" in (t["tags"] or [])]
    assert len(lineage) == 2


def test_connected_dict_run_space_runs_as_written(search_env: SearchEnv) -> None:
    run_id = hand_run(search_env.env, _scripts.CONNECT)
    path = _init(search_env, "--task", run_id)
    space = load_space(path)
    assert space.template == "connect-run"
    assert space.template_source is not None and space.template_source.task == run_id
    assert {p.name: p.kind for p in space.params} == {
        "General/lr": "log-float",
        "General/layers": "int",
        "General/optimizer": "categorical",
    }
    assert (space.objective.title, space.objective.series, space.pruner.name) == ("eval", "f1", "none")
    assert "reported at one iteration only: nothing to prune" in path.read_text()
    assert not _copies(search_env)  # the copy is made by the first search, once the space fits the run
    for trial in _search(search_env, path):
        assert trial["values"][0] == pytest.approx(1.0 - (trial["params"]["General/lr"] - 0.3) ** 2)
    [copy] = _copies(search_env)
    assert not copy["parent"] and copy["status"] == "created"


def test_hydra_script_space_runs_as_written(search_env: SearchEnv) -> None:
    script = _scripts.write(search_env.root, "hydra_train.py", _scripts.HYDRA)
    path = _init(search_env, "--script", str(script))
    space = load_space(path)
    kinds = {p.name: p.kind for p in space.params}
    assert kinds == {"Hydra/lr": "log-float", "Hydra/model.depth": "int", "Hydra/model.act": "categorical"}
    for trial in _search(search_env, path):
        lr, depth = trial["params"]["Hydra/lr"], trial["params"]["Hydra/model.depth"]
        assert trial["values"][0] == pytest.approx(1.0 - (lr - 0.3) ** 2 - 0.01 * depth)
