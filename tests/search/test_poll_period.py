"""How often the controller polls: faster on the embedded server (it says so in debug.ping), as asked elsewhere."""

from __future__ import annotations

from pathlib import Path

from hpo.search._controller import EMBEDDED_POLL_S, poll_period
from tests.support.api import running_api
from tests.support.server import free_port


def test_poll_period_embedded_server_polled_fast(tmp_path: Path) -> None:
    with running_api(tmp_path / "server") as api:
        assert poll_period(0.25, api.server.url) == EMBEDDED_POLL_S
        assert poll_period(0.02, api.server.url) == 0.02  # a shorter period asked for stays


def test_poll_period_unknown_server_keeps_period() -> None:
    assert poll_period(0.25, f"http://127.0.0.1:{free_port()}") == 0.25  # nobody answers: no fast path
