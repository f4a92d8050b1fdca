"""Choosing the trial to promote, and the champion rule, as pure functions (no server needed)."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpo.errors import ConfigError
from hpo.promotion._promote import decide
from hpo.promotion._records import ModelRecord
from hpo.promotion._select import best_of, choose, first_front, ranked
from hpo.study import Objective

ACC = Objective("validation", "accuracy", "max")
F1 = Objective("validation", "macro_f1", "max")
LOSS = Objective("validation", "loss", "min")


def _study(objectives: list[Objective], rows: list[tuple[list[float] | None, TrialState, str | None]]) -> optuna.Study:
    directions = ["maximize" if o.direction == "max" else "minimize" for o in objectives]
    study = optuna.create_study(directions=directions)
    study.set_user_attr("objectives", [[o.title, o.series, o.direction] for o in objectives])
    for number, (values, state, label) in enumerate(rows):
        attrs = {"task_id": f"t{number}", "model_id": f"m{number}"}
        if label:
            attrs["state"] = label
        study.add_trial(
            create_trial(
                params={"x": float(number)},
                distributions={"x": FloatDistribution(0, 100)},
                values=values,
                state=state,
                user_attrs=attrs,
            )
        )
    return study


def test_choose_skips_trials_whose_task_did_not_complete() -> None:
    done = TrialState.COMPLETE
    study = _study(
        [ACC],
        [
            ([0.99], done, "completed"),  # its task is still running
            ([0.98], done, "completed"),  # its task failed
            ([0.97], done, "completed"),  # its task was deleted
            (None, TrialState.PRUNED, "pruned"),
            ([0.96], done, "stopped"),  # the search labelled it stopped
            ([0.90], done, "completed"),
            ([0.95], done, None),  # a study not labelled by the search: Optuna's state counts
        ],
    )
    status = {"t0": "in_progress", "t1": "failed", "t4": "completed", "t5": "completed", "t6": "published"}
    candidate, skipped = choose(study, status)
    assert candidate is not None and candidate.number == 6 and candidate.task_id == "t6"
    assert candidate.model_id == "m6" and candidate.params == {"x": 6.0}
    assert sorted(skipped) == [
        "trial 0: task t0 is in_progress",
        "trial 1: task t1 is failed",
        "trial 2: task t2 is deleted",
    ]


def test_choose_minimizes_and_breaks_ties_by_trial_number() -> None:
    done = TrialState.COMPLETE
    study = _study([LOSS], [([0.5], done, None), ([0.2], done, None), ([0.2], done, None), ([0.9], done, None)])
    candidate, _ = choose(study, {f"t{i}": "completed" for i in range(4)})
    assert candidate is not None and candidate.number == 1


def test_choose_without_a_completed_task_returns_none() -> None:
    study = _study([ACC], [([0.9], TrialState.COMPLETE, None)])
    candidate, skipped = choose(study, {"t0": "stopped"})
    assert candidate is None and skipped == ["trial 0: task t0 is stopped"]


def test_choose_rejects_a_study_without_objectives() -> None:
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ConfigError, match="objectives"):
        choose(study, {})


@pytest.mark.parametrize(
    ("points", "front", "best"),
    [
        # (accuracy max, loss min): 0 and 2 trade off; 1 is dominated by 0; 3 by everyone.
        ([(0.9, 0.3), (0.8, 0.4), (0.7, 0.1), (0.6, 0.5)], [0, 2], 0),
        # equal first objectives: the second one breaks the tie (lexicographic), not the trial number
        ([(0.9, 0.3), (0.9, 0.2), (0.5, 0.1)], [1, 2], 1),
        # identical points: neither dominates the other; the lower trial number wins
        ([(0.8, 0.2), (0.8, 0.2)], [0, 1], 0),
    ],
)
def test_multi_objective_front_and_tie_break(points: list[tuple[float, float]], front: list[int], best: int) -> None:
    study = _study([ACC, LOSS], [(list(p), TrialState.COMPLETE, None) for p in points])
    trials = study.get_trials()
    assert sorted(t.number for t in first_front(trials, [ACC, LOSS])) == front
    chosen = best_of(trials, [ACC, LOSS])
    assert chosen is not None and chosen.number == best


def test_multi_objective_front_only_among_completed_tasks() -> None:
    # Trial 0 dominates trial 1, but its task failed: trial 1 is then on the front and chosen.
    study = _study([ACC, F1], [([0.9, 0.9], TrialState.COMPLETE, None), ([0.8, 0.8], TrialState.COMPLETE, None)])
    candidate, _ = choose(study, {"t0": "failed", "t1": "completed"})
    assert candidate is not None and candidate.number == 1


def _champion(value: float, version: str = "1.0.0", name: str = "validation/accuracy") -> ModelRecord:
    import json

    objectives = json.dumps([{"name": name, "direction": "max", "value": value}])
    return ModelRecord(
        "old", "task", "p", "m", "scikit-learn", "", False, ["champion"],
        {"objectives": objectives, "dataset_version": version},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("value", "version", "incumbent", "force", "takes", "why"),
    [
        (0.8, "1.0.0", None, False, True, "no champion yet"),
        (0.9, "1.0.0", _champion(0.8), False, True, "beats champion old"),
        (0.8, "1.0.0", _champion(0.8), False, False, "ties keep the champion"),
        (0.7, "1.0.0", _champion(0.8), False, False, "does not beat champion old"),
        (0.9, "2.0.0", _champion(0.8), False, False, "dataset version 1.0.0, this model on 2.0.0"),
        (0.9, "1.0.0", _champion(0.8, name="validation/macro_f1"), False, False, "was chosen on validation/macro_f1"),
        (0.1, "2.0.0", _champion(0.8), True, True, "--force"),
    ],
)
def test_champion_rule(
    value: float, version: str, incumbent: ModelRecord | None, force: bool, takes: bool, why: str
) -> None:
    new = [{"name": "validation/accuracy", "direction": "max", "value": value}]
    taken, reason = decide(new, version, incumbent, force)
    assert taken is takes and why in reason


def test_ranked_gives_the_top_k_eligible_trials_best_first() -> None:
    done = TrialState.COMPLETE
    rows: list[tuple[list[float] | None, TrialState, str | None]] = [
        ([0.91], done, "completed"),
        ([0.99], done, "completed"),  # its task failed: never a candidate
        ([0.95], done, "completed"),
        ([0.93], done, "completed"),
        ([0.95], done, "completed"),  # ties with trial 2: the lower number first
    ]
    study = _study([LOSS], [([1 - v[0]] if v else None, s, lbl) for v, s, lbl in rows])
    status = {f"t{n}": "completed" for n in range(5)} | {"t1": "failed"}
    top, skipped = ranked(study, status, 3)
    assert [c.number for c in top] == [2, 4, 3] and skipped == ["trial 1: task t1 is failed"]
    assert [c.number for c in ranked(study, status, 10)[0]] == [2, 4, 3, 0]
    assert choose(study, status)[0] == top[0]
