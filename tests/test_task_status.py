"""ClearML task-status groups: one decision for search, promotion and data (``closed`` is aborted)."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from hpo import task_status
from hpo.promotion._select import choose

# Every status the API definitions of the installed SDK allow for a task.
ALL = {"created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed", "completed"}
ALL |= {"unknown"}


def test_the_sdk_knows_exactly_these_statuses() -> None:
    from clearml.backend_api.services.v2_23.tasks import TaskStatusEnum

    assert {str(s) for s in TaskStatusEnum.__members__.values()} == ALL  # what the groups below are chosen from


def test_groups_do_not_overlap_and_ended_is_their_union() -> None:
    groups = [task_status.LIVE, task_status.SUCCEEDED, task_status.ABORTED, task_status.FAILED]
    flat = [status for group in groups for status in group]
    assert len(flat) == len(set(flat)) and set(flat) <= ALL
    assert set(task_status.ENDED) == set(task_status.SUCCEEDED + task_status.ABORTED + task_status.FAILED)
    # publishing is the step to published and unknown is no state to act on: neither ends a trial
    assert ALL - set(flat) == {"publishing", "unknown"}


def test_closed_is_an_aborted_task_never_a_completed_one() -> None:
    """ClearML Server closes only stopped tasks: a closed trial did not run to its end."""
    assert "closed" in task_status.ABORTED and "closed" in task_status.ENDED
    assert "closed" not in task_status.SUCCEEDED and "closed" not in task_status.LIVE
    assert "closed" in task_status.DATASET_FINAL  # a closed dataset is final, as the SDK's list_datasets says


def test_promotion_skips_a_trial_whose_task_was_closed() -> None:
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("objectives", [["validation", "accuracy", "max"]])
    for number, value in enumerate((0.9, 0.8)):
        study.add_trial(
            create_trial(
                params={"x": float(number)},
                distributions={"x": FloatDistribution(0, 1)},
                value=value,
                state=TrialState.COMPLETE,
                user_attrs={"task_id": f"t{number}", "state": "completed"},
            )
        )
    candidate, skipped = choose(study, {"t0": "closed", "t1": "completed"})
    assert candidate is not None and candidate.number == 1
    assert skipped == ["trial 0: task t0 is closed"]
