"""Bad input at start, one line each with the fix: an HPO_HOME that cannot be written, a full disk
(``server.json``, the server's database).

(A taken port: tests/cli/test_server_cli.py::test_busy_port_fails_with_a_clear_error; a missing
extra: tests/test_extras.py.)
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from hpo._processes import write_atomic
from hpo.cli._common import run
from hpo.errors import ConfigError
from hpo.paths import storage_error
from hpo.server import runtime_config
from hpo.server._serve import serve


def _full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``Path.write_text`` fails as on a full disk, after creating its (empty) file."""

    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        self.touch()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", write_text)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.ENOSPC, "No space left on device; free space on that disk, or point HPO_HOME"),
        (errno.EDQUOT, "free space on that disk"),
        (errno.EACCES, "cannot be written (Permission denied); point HPO_HOME"),
        (errno.EROFS, "cannot be written (Read-only file system)"),
        (errno.ENOTDIR, "cannot be written (Not a directory)"),
    ],
)
def test_storage_error_names_the_path_and_the_fix(code: int, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_HOME", "/data/hpo")
    reason = storage_error(OSError(code, os.strerror(code), "/data/hpo/server/server.json"))
    assert reason is not None
    assert str(reason).startswith("/data/hpo/server/server.json: ") and says in str(reason), reason
    assert "(now /data/hpo)" in str(reason) and "\n" not in str(reason)


def test_storage_error_leaves_other_errors_alone() -> None:
    assert storage_error(FileNotFoundError(errno.ENOENT, "No such file or directory", "/x")) is None
    assert storage_error(OSError(errno.EMFILE, "Too many open files")) is None


def test_write_atomic_on_a_full_disk_says_so_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _full_disk(monkeypatch)
    with pytest.raises(ConfigError, match=r"No space left on device; free space on that disk"):
        write_atomic(tmp_path / "server.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_server_start_on_a_full_disk_fails_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "server"
    config = runtime_config(data_dir, "127.0.0.1", 0, None)
    _full_disk(monkeypatch)  # after the config: the store and the lock are written before server.json
    with pytest.raises(ConfigError, match=r"server\S*\.tmp: No space left on device; free space"):
        serve(config)
    assert not (data_dir / "server.json").exists()


def test_server_start_with_its_database_on_a_full_disk_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect = sqlite3.connect

    def full_disk(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 1")  # SQLite's own SQLITE_FULL at the first page it adds
        return conn

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    config = runtime_config(tmp_path / "server", "127.0.0.1", 0, None)
    with pytest.raises(ConfigError, match=r"^\S+: database or disk is full; free space on that disk, or point"):
        serve(config)
    assert not (tmp_path / "server" / "server.json").exists()


def test_cli_turns_an_unwritable_folder_into_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def work() -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/hpo/server")

    with pytest.raises(typer.Exit) as raised:
        run(work)
    assert raised.value.exit_code == 1
    said = capsys.readouterr().err
    assert said.startswith("[error] /srv/hpo/server: cannot be written (Permission denied); point HPO_HOME")
    assert said.count("\n") == 1, said


def test_cli_keeps_the_traceback_of_other_os_errors() -> None:
    def work() -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/nowhere")

    with pytest.raises(FileNotFoundError):
        run(work)


def test_server_start_with_an_unwritable_hpo_home(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**os.environ, "HPO_HOME": str(blocker / "hpo")}
    cli = [sys.executable, "-m", "hpo.cli", "server", "start"]
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"[error] {blocker / 'hpo'}"), done.stderr
    assert "cannot be written (Not a directory); point HPO_HOME" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
