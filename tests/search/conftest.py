"""Fixtures for search tests on PostgreSQL study storage (the ``search_env`` fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """One throwaway PostgreSQL for the session (see tests/support/postgres.py)."""
    try:
        server = postgres.start()
    except postgres.PostgresUnavailable as err:
        pytest.skip(f"PostgreSQL is not installed here ({err}); scripts/test installs it")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """The URL (with its password) of a fresh database on the session's PostgreSQL, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)
