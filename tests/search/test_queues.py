"""Queues no worker serves are refused before launch: the pure rule and its message."""

from __future__ import annotations

import pytest

from hpo.search._queues import WorkerSeen, check_served, unserved, unserved_message

WORKERS = [WorkerSeen("gpu-box:0", ("gpu", "default")), WorkerSeen("cpu-box:1", ())]


@pytest.mark.parametrize(
    ("queues", "missing"),
    [(["gpu"], []), (["default", "gpu"], []), (["hpo-local", "gpu", "cpu"], ["hpo-local", "cpu"])],
)
def test_unserved(queues: list[str], missing: list[str]) -> None:
    assert unserved(queues, WORKERS) == missing


def test_unserved_message_names_queue_workers_and_fix() -> None:
    message = unserved_message(["default"], WORKERS, known_queues=["gpu", "default"])
    assert message.startswith("no worker serves queue 'default'; workers seen: gpu-box:0 on gpu, default;")
    assert "cpu-box:1 on no queue" in message
    assert "--local-workers N" in message and "`hpo agent start --queue default`" in message
    assert "does not exist" not in message


def test_unserved_message_without_workers_or_queue() -> None:
    message = unserved_message(["default"], [], known_queues=[])
    assert "'default' does not exist on the server" in message
    assert "no worker is registered on the server" in message


def test_check_served_trusts_local_workers() -> None:
    check_served(["anything"], local_workers=2)  # the search's own agents serve every queue: no server call
