"""Which server the CLI uses: option > environment > clearml.conf > embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.connection import connect, embedded_url, resolve, same_address
from hpo.errors import ServerError
from tests.support.server import free_port


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CLEARML_* variables and an empty home: nothing configured."""
    import os

    for key in list(os.environ):
        if key.startswith(("CLEARML_", "TRAINS_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _conf(path: Path, host: str | None) -> Path:
    api = f'api {{ api_server: "{host}" }}\n' if host else ""
    path.write_text(api + "sdk { development { report_use_subprocess: false } }\n")
    return path


def test_resolve_nothing_configured_is_embedded(clean_env: Path) -> None:
    assert resolve().source == "embedded"


def test_resolve_conf_without_api_server_is_embedded(clean_env: Path) -> None:
    _conf(clean_env / "clearml.conf", None)
    assert resolve().source == "embedded"


def test_resolve_home_conf(clean_env: Path) -> None:
    _conf(clean_env / "clearml.conf", "http://conf-host:8008")
    conn = resolve()
    assert (conn.source, conn.api_host, conn.config_file) == (
        "clearml.conf",
        "http://conf-host:8008",
        clean_env / "clearml.conf",
    )


def test_resolve_precedence(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARML_CONFIG_FILE", str(_conf(clean_env / "other.conf", "http://conf-host:8008")))
    assert resolve().api_host == "http://conf-host:8008"
    monkeypatch.setenv("CLEARML_API_HOST", "http://env-host:8008/")
    assert (resolve().source, resolve().api_host) == ("environment", "http://env-host:8008")
    assert (resolve("http://option:1").source, resolve("http://option:1").api_host) == ("option", "http://option:1")


def test_connect_unreachable_server_fails_fast(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARML_API_HOST", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServerError, match="no ClearML server answers .*from environment"):
        connect(timeout=1)


def test_connect_option_exports_host(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    with pytest.raises(ServerError, match="from option"):
        connect(f"http://127.0.0.1:{free_port()}", timeout=1)
    assert os.environ["CLEARML_API_HOST"].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://127.0.0.1:8008", "http://localhost:8008/", True),
        ("http://[::1]:8008", "http://127.0.0.1:8008", True),
        ("http://127.0.0.1:8008", "http://127.0.0.1:8009", False),
        ("http://10.0.0.2:8008", "http://127.0.0.1:8008", False),
        ("https://127.0.0.1:8008", "http://127.0.0.1:8008", False),
        ("http://127.0.0.1:80x", "http://127.0.0.1:80", False),
    ],
)
def test_same_address(a: str, b: str, same: bool) -> None:
    assert same_address(a, b) is same


def test_resolve_env_naming_the_embedded_default_is_embedded(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After `eval "$(hpo server env)"` the embedded default stays the default (issue 17, item 8);
    another data dir's server (a test's, a colleague's) is a configured server like any other."""
    from hpo import local_server

    monkeypatch.setenv("HPO_HOME", str(clean_env / "hpo_home"))
    default_dir, other_dir = clean_env / "hpo_home" / "server", clean_env / "other"
    server, _ = local_server.start(default_dir, port=free_port())
    other, _ = local_server.start(other_dir, port=free_port())
    try:
        assert embedded_url() == server.url
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        assert (resolve().source, resolve().api_host) == ("embedded", server.url)
        assert resolve(server.url.replace("127.0.0.1", "localhost")).source == "embedded"
        conn = connect(timeout=2)
        assert (conn.source, conn.api_host) == ("embedded", server.url)
        monkeypatch.setenv("CLEARML_API_HOST", other.url)
        assert resolve().source == "environment"
        local_server.stop(default_dir)
        monkeypatch.setenv("CLEARML_API_HOST", server.url)
        assert embedded_url() is None
        assert resolve().source == "environment"  # no longer running: an address like any other
    finally:
        local_server.stop(default_dir)
        local_server.stop(other_dir)
