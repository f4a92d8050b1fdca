"""Queue routing: least backlog per idle worker."""

from __future__ import annotations

import pytest

from hpo.search._routing import QueueLoad, assign, choose


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        ([QueueLoad("a", 0, 1, 1), QueueLoad("b", 0, 1, 1)], "a"),  # tie: the first listed
        ([QueueLoad("a", 3, 1, 0), QueueLoad("b", 0, 1, 1)], "b"),
        ([QueueLoad("a", 2, 4, 2), QueueLoad("b", 1, 1, 0)], "a"),
        ([QueueLoad("a", 0, 0, 0), QueueLoad("b", 5, 1, 0)], "b"),  # a queue nobody serves is never chosen
        ([QueueLoad("a", 2, 0, 0), QueueLoad("b", 1, 0, 0)], "b"),  # nobody serves any: least backlog
    ],
)
def test_choose_prefers_least_backlog_per_idle_worker(loads: list[QueueLoad], expected: str) -> None:
    assert choose(loads) == expected


def test_assign_spreads_a_batch_over_queues_by_capacity() -> None:
    placed = assign([QueueLoad("cpu", 0, 3, 3), QueueLoad("gpu", 0, 1, 1)], 6)
    assert placed.count("cpu") == 4 and placed.count("gpu") == 2
    assert sorted(placed[:4]) == ["cpu", "cpu", "cpu", "gpu"]  # every idle worker gets one first


def test_choose_needs_a_queue() -> None:
    with pytest.raises(ValueError):
        choose([])
