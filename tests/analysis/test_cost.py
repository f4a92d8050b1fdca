"""What a search cost: compute, queue wait, per queue, and the compute pruning saved (pure)."""

from __future__ import annotations

import pytest

from hpo.analysis import TrialRecord, search_cost


def _record(
    number: int, state: str, steps: int, created: float, started: float | None, ended: float | None, queue: str = "q1"
) -> TrialRecord:
    return TrialRecord(
        number=number,
        state=state,
        intermediate={i: 0.1 * i for i in range(steps)},
        queue=queue,
        created=created,
        started=started,
        ended=ended,
        task_id=f"t{number}",
    )


def test_compute_wait_per_queue_and_pruning_savings() -> None:
    records = [
        _record(0, "completed", 10, created=0.0, started=2.0, ended=22.0),  # 20 s for 10 steps
        _record(1, "completed", 10, created=0.0, started=5.0, ended=35.0, queue="q2"),  # 30 s
        _record(2, "pruned", 4, created=10.0, started=11.0, ended=19.0),  # 8 s for 4 steps: 2 s a step
        _record(3, "pruned", 0, created=10.0, started=12.0, ended=13.0),  # no step: priced at the median rate
        _record(4, "running", 3, created=20.0, started=21.0, ended=None),  # no run time yet
        _record(5, "queued", 0, created=30.0, started=None, ended=None),
    ]
    cost = search_cost(records)
    assert cost.compute_s == pytest.approx(20 + 30 + 8 + 1)
    assert cost.per_queue == {"q1": pytest.approx(29.0), "q2": pytest.approx(30.0)}
    assert cost.queue_wait_s == pytest.approx(2 + 5 + 1 + 2 + 1)
    assert cost.full_steps == 10
    assert cost.steps_saved == 6 + 10
    median_rate = sorted([2.0, 3.0, 2.0])[1]  # per-step times of trials 0, 1 and 2
    assert cost.saved_by_pruning_s == pytest.approx(6 * 2.0 + 10 * median_rate)
    assert cost.timed_trials == 4
    as_dict = cost.as_dict()
    assert as_dict["trials"]["4"] == {"queue_wait_s": 1.0, "run_s": None}
    assert "5" not in as_dict["trials"]


def test_nothing_completed_saves_nothing_and_costs_nothing() -> None:
    cost = search_cost([_record(0, "pruned", 2, created=0.0, started=None, ended=None)])
    assert cost.compute_s == 0 and cost.full_steps is None and cost.steps_saved == 0
    assert search_cost([]).as_dict()["compute_s"] == 0


def test_status_cost_line_shows_queues_only_when_several_and_savings_only_when_some() -> None:
    from hpo.cli._view import cost_line
    from hpo.study import Summary

    def line(cost: dict[str, object] | None) -> str | None:
        summary = Summary("s", "running", 4, {}, None, {}, None, 0.0, None, [], attrs={"cost": cost} if cost else {})
        return cost_line(summary)

    assert line(None) is None
    one = {"compute_s": 42.0, "queue_wait_s": 5.0, "per_queue": {"q1": 42.0}, "saved_by_pruning_s": 0, "steps_saved": 0}
    assert line(one) == "compute 0:42  queue wait 0:05"
    two = {**one, "per_queue": {"q1": 30.0, "q2": 12.0}, "saved_by_pruning_s": 20.0, "steps_saved": 40}
    assert line(two) == "compute 0:42 (q1 0:30, q2 0:12)  queue wait 0:05  saved by pruning 0:20 (40 steps)"


def test_cost_table_says_the_steps_saved_in_plain_words() -> None:
    from hpo.analysis._tables import cost_table

    records = [_record(0, "completed", 1, created=0.0, started=1.0, ended=2.0)]
    [saved] = [row for row in cost_table(search_cost(records)) if row[0] == "saved by pruning"]
    assert saved[2] == "0 steps not trained (a completed trial trains 1 step)"
    [none] = [row for row in cost_table(search_cost([])) if row[0] == "saved by pruning"]
    assert none[2] == "0 steps not trained; no completed trial"
