"""Storage faults in the file server: a read-only or full disk is waited out, logged and answered 503.

The faults are real: as root, a read-only bind mount (EROFS) and a tiny tmpfs (ENOSPC); as
another user, directories without write permission (EACCES). The SDK's own retries for an upload
are 3 tries back to back (``StorageHelper._do_upload``; urllib3 never retries a POST on a status),
so the last test checks what matters: an SDK upload started inside a 10 s read-only window lands
once the window ends, because the server holds the request and retries the write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from hpo.server import _files
from hpo.server._auth import issue_token, load_or_create_credentials
from tests.support.server import Env

PAYLOAD = bytes(range(256)) * 400  # 100 KiB


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Make ``path`` and everything below it unwritable for real; yields the errno writes get."""
    if os.geteuid() != 0:
        dirs = [path, *(p for p in path.rglob("*") if p.is_dir())]
        for folder in dirs:
            folder.chmod(0o500)
        try:
            yield "EACCES"
        finally:
            for folder in dirs:
                folder.chmod(0o700)
        return
    bound = _run("mount", "--bind", str(path), str(path))
    if bound.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here (root without CAP_SYS_ADMIN?): {bound.stderr}")
    try:
        remount = _run("mount", "-o", "remount,bind,ro", str(path))
        assert remount.returncode == 0, remount.stderr
        yield "EROFS"
    finally:
        if _run("umount", str(path)).returncode != 0:
            _run("umount", "-l", str(path))


class Lifted:
    """Ends a read-only window from another thread after ``after_s`` seconds."""

    def __init__(self, window: AbstractContextManager[str], after_s: float) -> None:
        self.window, self.after_s = window, after_s
        self.ended_at = 0.0
        self.thread = threading.Thread(target=self._lift, daemon=True)

    def _lift(self) -> None:
        time.sleep(self.after_s)
        self.window.__exit__(None, None, None)
        self.ended_at = time.time()


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """An in-process file server on ``tmp_path/files`` that holds a faulty upload for 1 s."""
    yield from _file_server(tmp_path, hold_s=1.0)


@pytest.fixture
def patient_files(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """As :func:`files`, holding a faulty upload for 10 s: a fault lifted at 0.6 s ends well within it."""
    yield from _file_server(tmp_path, hold_s=10.0)


def _file_server(tmp_path: Path, hold_s: float) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path / "files"
    root.mkdir()
    creds = load_or_create_credentials(tmp_path / "credentials.json")
    endpoint = _files.make_endpoint(root, creds, timeout_s=5.0, hold_s=hold_s)
    methods = ["GET", "POST", "DELETE"]
    app = Starlette(
        routes=[Route("/files", endpoint, methods=methods), Route("/files/{path:path}", endpoint, methods=methods)]
    )
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(creds)}"
        yield client, root


def _upload(client: TestClient, path: str, content: bytes = PAYLOAD) -> Any:
    return client.post("/files/", files={path: (path, content)})


def test_upload_to_read_only_storage_answers_503_and_logs_path_and_errno(
    files: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, root = files
    with read_only(root) as errno_name:
        started = time.monotonic()
        response = _upload(client, "/p/t.1/artifacts/a/a.bin")
        held = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"] == str(_files.RETRY_AFTER_S)
    assert errno_name in response.json()["error"] and "/p/t.1/artifacts/a/a.bin" in response.json()["error"]
    assert 0.5 <= held < 5, f"the upload was held {held:.1f} s, expected about hold_s (1 s)"
    faults = [r.getMessage() for r in caplog.records if r.name == "hpo.server._files"]
    assert any("/p/t.1/artifacts/a/a.bin" in m and errno_name in m and str(root) in m for m in faults), faults
    assert any("gave up" in m for m in faults), faults
    assert not (root / "p").exists()


def test_upload_during_a_short_fault_is_written_once_it_ends(
    patient_files: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, root = patient_files
    window = read_only(root)
    errno_name = window.__enter__()
    lifted = Lifted(window, after_s=0.6)
    lifted.thread.start()
    response = _upload(client, "/p/t.2/models/m.bin")
    lifted.thread.join()
    assert response.status_code == 200, response.text
    assert time.time() >= lifted.ended_at  # answered only after the window ended
    assert (root / "p" / "t.2" / "models" / "m.bin").read_bytes() == PAYLOAD
    faults = [r.getMessage() for r in caplog.records if r.name == "hpo.server._files"]
    assert any("/p/t.2/models/m.bin" in m and errno_name in m for m in faults), faults
    assert any(m.startswith("file server: wrote /p/t.2/models/m.bin after") for m in faults), faults


def test_delete_on_read_only_storage_answers_503_and_keeps_the_file(files: tuple[TestClient, Path]) -> None:
    client, root = files
    assert _upload(client, "/p/t.3/a.bin").status_code == 200
    with read_only(root):
        response = client.delete("/files/p/t.3/a.bin")
    assert response.status_code == 503 and response.headers["Retry-After"] == str(_files.RETRY_AFTER_S)
    assert (root / "p" / "t.3" / "a.bin").read_bytes() == PAYLOAD
    assert client.delete("/files/p/t.3/a.bin").status_code == 200


def test_upload_to_a_full_disk_answers_503_with_enospc(
    files: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, root = files
    if os.geteuid() != 0:
        pytest.skip("a full disk is made with a tiny tmpfs, which needs root")
    mounted = _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr}")
    try:
        response = _upload(client, "/p/t.4/big.bin", PAYLOAD * 2)
    finally:
        _run("umount", str(root))
    assert response.status_code == 503 and "ENOSPC" in response.json()["error"]
    faults = [r.getMessage() for r in caplog.records if r.name == "hpo.server._files"]
    assert any("/p/t.4/big.bin" in m and "ENOSPC" in m for m in faults), faults


SDK_UPLOAD = """
import json, sys, time
from clearml import Task

task = Task.init(project_name="faults", task_name="upload")
with open("payload.bin", "wb") as f:
    f.write(bytes(range(256)) * 400)
print("READY", flush=True)
sys.stdin.readline()  # the test makes the files dir read-only, then says go
started = time.time()
task.upload_artifact("blob", artifact_object="payload.bin", wait_on_upload=True)
ended = time.time()
print("RESULT " + json.dumps({"started": started, "ended": ended, "url": task.artifacts["blob"].url}), flush=True)
task.close()
"""


def test_sdk_upload_during_a_10s_read_only_window_lands_after_it(clearml: Env) -> None:
    script = clearml.root / "upload.py"
    script.write_text(textwrap.dedent(SDK_UPLOAD))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=clearml.root,
        env=clearml.vars,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("READY"):
            break
    files_dir = clearml.server.data_dir / "files"
    window = read_only(files_dir)
    errno_name = window.__enter__()
    lifted = Lifted(window, after_s=10.0)
    lifted.thread.start()
    try:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        output, _ = proc.communicate(timeout=120)
    finally:
        lifted.thread.join()
    lines.append(output)
    text = "".join(lines)
    assert proc.returncode == 0, text
    result = json.loads(next(ln[7:] for ln in text.splitlines() if ln.startswith("RESULT ")))
    assert result["started"] < lifted.ended_at <= result["ended"] + 0.5, (result, lifted.ended_at)
    creds = clearml.server.credentials()
    login = httpx.post(f"{clearml.server.url}/auth.login", auth=(creds.access_key, creds.secret_key), timeout=10)
    token = login.json()["data"]["token"]
    download = httpx.get(result["url"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert download.status_code == 200 and download.content == PAYLOAD
    log = (clearml.server.data_dir / "server.log").read_text()
    assert errno_name in log and "artifacts/blob" in log and "file server: wrote" in log, log[-3000:]
