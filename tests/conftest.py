"""Fixtures shared by all tests: a real embedded server per test and a real SDK in subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hpo import local_server
from tests.support.agents import AgentEnv, start_agents_env
from tests.support.browser import launch_chromium
from tests.support.search import SearchEnv, start_search_env
from tests.support.server import Env, free_port, sdk_env


@pytest.fixture
def clearml(tmp_path: Path) -> Iterator[Env]:
    """A fresh embedded server (own data dir, free port) and the env for SDK subprocesses."""
    data_dir = tmp_path / "server"
    server, _ = local_server.start(data_dir, port=free_port())
    try:
        yield Env(server, tmp_path, sdk_env(server, tmp_path))
    finally:
        local_server.stop(data_dir)


@pytest.fixture
def search_env(tmp_path: Path) -> Iterator[SearchEnv]:
    """A fresh server (short task timeout) with the curve template; search agents stopped after the test."""
    with start_search_env(tmp_path) as ctx:
        yield ctx


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[AgentEnv]:
    """A fresh server with a short task timeout; agents started in the test are stopped after it."""
    with start_agents_env(tmp_path) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium through Playwright, one a module (each test opens its own contexts)."""
    with launch_chromium() as chromium:
        yield chromium
