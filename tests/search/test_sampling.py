"""Every sampler and pruner the CLI offers runs a study in-process over a mixed space.

The ClearML side of a search does not depend on the sampler; these tests make sure each named
option builds, samples inside the space and (for pruners) prunes.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from hpo.search._sampling import make_pruner, make_sampler, suggest
from hpo.search._space import SearchSpace, load_space

PARAMETERS = {
    "General/layers": {"type": "int", "low": 1, "high": 4},
    "General/dropout": {"type": "stepped", "low": 0.0, "high": 0.5, "step": 0.1},
    "General/lr": {"type": "log-float", "low": 0.001, "high": 1.0},
    "General/kind": {"type": "categorical", "choices": ["a", "b"]},
}
STEPS = 5


def _space(tmp_path: Path, sampler: str, pruner: str) -> SearchSpace:
    parameters = dict(PARAMETERS)
    if sampler == "grid":
        del parameters["General/lr"]  # a grid needs discrete parameters
    doc = {
        "template": "curve",
        "objective": {"title": "validation", "series": "score", "direction": "max"},
        "sampler": {"name": sampler, "seed": 3},
        "pruner": pruner,
        "parameters": parameters,
    }
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_space(path)


def _score(params: dict[str, Any]) -> float:
    return -((params["General/layers"] - 3) ** 2) - params["General/dropout"] + (params["General/kind"] == "b")


def _inside(space: SearchSpace, params: dict[str, Any]) -> bool:
    for param in space.params:
        value = params[param.name]
        if param.kind == "categorical":
            ok = value in param.choices
        else:
            assert param.low is not None and param.high is not None
            ok = param.low <= value <= param.high
            if param.kind == "stepped" and param.step:
                ok = ok and math.isclose(round((value - param.low) / param.step), (value - param.low) / param.step)
        if not ok:
            return False
    return True


@pytest.mark.parametrize(
    ("sampler", "pruner"),
    [("tpe", "median"), ("random", "asha"), ("cmaes", "hyperband"), ("nsga2", "none"), ("grid", "none")],
)
def test_each_sampler_and_pruner_runs_a_study(tmp_path: Path, sampler: str, pruner: str) -> None:
    space = _space(tmp_path, sampler, pruner)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(space), pruner=make_pruner(space))
    pruned = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's notes, e.g. CMA-ES sampling categoricals independently
        for _ in range(30):
            trial = study.ask()
            params = suggest(trial, space)
            assert _inside(space, params), params
            final = _score(params)
            for step in range(STEPS):
                trial.report(final * (step + 1) / STEPS, step)
                if trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    pruned += 1
                    break
            else:
                study.tell(trial, final)
    finished = study.get_trials(states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    assert len(finished) == 30
    assert (pruned > 0) == (pruner != "none"), pruned
    assert study.best_value == max(_score(t.params) for t in study.trials if t.state.name == "COMPLETE")
