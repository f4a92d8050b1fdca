"""Fixtures for the web UI's in-process tier: the app over a fresh data dir, seeded through its API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import in_process_app
from tests.support.ui import BASE, UI


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[UI]:
    """The app over a fresh data dir, an API token, and a signed-out browser-like client."""
    with in_process_app(tmp_path / "server", base_url=BASE) as (client, token):
        yield UI(client, token)
