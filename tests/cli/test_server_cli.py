"""``hpo server`` through the real command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import free_port


def hpo(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML_")}
    clean.update(HPO_HOME=str(tmp_path / "home"), HOME=str(tmp_path), COLUMNS="200")
    return clean


def test_start_is_idempotent_and_env_points_the_sdk_at_it(env: dict[str, str], tmp_path: Path) -> None:
    port = str(free_port())
    try:
        first = hpo("server", "start", "--port", port, env=env)
        assert "server started" in first.stdout
        again = hpo("server", "start", "--port", port, env=env)
        assert "already running" in again.stdout
        status = json.loads(hpo("server", "status", "--json", env=env).stdout)
        assert status["running"] and status["url"].endswith(f":{port}")
        assert Path(status["data_dir"]) == tmp_path / "home" / "server"

        exports = hpo("server", "env", env=env).stdout
        script = tmp_path / "use.py"
        script.write_text(
            "from clearml import Task\n"
            "t = Task.init(project_name='cli', task_name='env')\n"
            "print('RESULT', Task.get_task(task_id=t.id).name)\n"
            "t.close()\n"
        )
        run = subprocess.run(
            ["bash", "-c", f'eval "$({sys.executable} -m hpo.cli server env)" && {sys.executable} {script}'],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert "RESULT env" in run.stdout
        assert f"CLEARML_API_HOST=http://127.0.0.1:{port}" in exports
        assert "CLEARML_API_SECRET_KEY=" in exports
    finally:
        hpo("server", "stop", env=env)
    stopped = hpo("server", "status", env=env, check=False)
    assert stopped.returncode == 3
    assert "not running" in stopped.stdout


def test_non_loopback_bind_warns_about_credentials(env: dict[str, str], tmp_path: Path) -> None:
    data_dir = str(tmp_path / "exposed")
    try:
        started = hpo(
            "server", "start", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", data_dir, env=env
        )
        assert "warning" in started.stderr
        assert "credentials" in started.stderr
    finally:
        hpo("server", "stop", "--data-dir", data_dir, env=env)


def test_busy_port_fails_with_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        failed = hpo("server", "start", "--port", str(port), "--data-dir", str(tmp_path / "d"), env=env, check=False)
    assert failed.returncode == 1
    assert "[error]" in failed.stderr
    assert "--port" in failed.stderr


def test_default_port_taken_falls_back_to_a_free_one_kept_across_restarts(env: dict[str, str], tmp_path: Path) -> None:
    import socket

    data_dir = str(tmp_path / "fallback")
    blocker = socket.socket()
    try:
        try:
            blocker.bind(("127.0.0.1", 8008))
            blocker.listen()
        except OSError:
            pass  # 8008 is already taken by something else: the same situation
        started = hpo("server", "start", "--data-dir", data_dir, env=env)
        assert "server started" in started.stdout
        status = json.loads(hpo("server", "status", "--json", "--data-dir", data_dir, env=env).stdout)
        assert status["running"] and not status["url"].endswith(":8008")
        # stored file and model URLs name the port: a restart without --port takes the same one
        blocker.close()
        hpo("server", "stop", "--data-dir", data_dir, env=env)
        hpo("server", "start", "--data-dir", data_dir, env=env)
        again = json.loads(hpo("server", "status", "--json", "--data-dir", data_dir, env=env).stdout)
        assert again["url"] == status["url"]
    finally:
        blocker.close()
        hpo("server", "stop", "--data-dir", data_dir, env=env)
