"""Which server the CLI uses: option > environment > clearml.conf > embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.connection import connect, resolve
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
