"""The file server at ``{base}/files``: the SDK's upload and download, auth, and path confinement."""

from __future__ import annotations

import hashlib
import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from hpo import local_server
from tests.support.server import Env, free_port

pytestmark = pytest.mark.xdist_group("files")  # its module-scoped fixtures are built once, on one worker


class Files:
    """A started server with a logged-in raw HTTP client for its file server."""

    def __init__(self, server: local_server.RunningServer) -> None:
        self.server = server
        self.root = server.data_dir / "files"
        creds = server.credentials()
        login = httpx.post(f"{server.url}/auth.login", auth=(creds.access_key, creds.secret_key), timeout=10)
        self.token = login.json()["data"]["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def upload(
        self, field: str, content: bytes, folder: str = "", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Upload like the SDK: multipart POST to the files root (or a folder), field name = object path."""
        url = f"{self.server.files_url}/{folder}"
        return httpx.post(url, files={field: (field, content)}, headers=self.auth if headers is None else headers)

    def get_raw(self, raw_path: str) -> tuple[int, bytes]:
        """GET a path exactly as written: httpx would remove ``..`` segments before sending."""
        conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            conn.request("GET", raw_path, headers=self.auth)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    # Raw HTTP checks do not change shared state that matters, so one server serves the module.
    data_dir = tmp_path_factory.mktemp("files_server") / "data"
    server, _ = local_server.start(data_dir, port=free_port())
    try:
        yield Files(server)
    finally:
        local_server.stop(data_dir)


def _outside_files(files: Files) -> set[Path]:
    """Every file in the data dir that the file server does not own (database, credentials, ...)."""
    return {p for p in files.server.data_dir.parent.rglob("*") if p.is_file() and files.root not in p.parents}


def test_files_upload_then_download_with_encoded_path(files: Files) -> None:
    content = b"\x00binary\xffcontent" * 100
    field = "/My Project/T clone %231.abc/artifacts/a b/data #1.bin"
    response = files.upload(field, content)
    assert response.status_code == 200, response.text
    assert (files.root / field.lstrip("/")).read_bytes() == content

    url = f"{files.server.files_url}/My%20Project/T%20clone%20%25231.abc/artifacts/a%20b/data%20%231.bin"
    first = httpx.get(url, headers=files.auth)
    second = httpx.get(url, headers=files.auth)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == content
    assert first.headers["content-length"] == str(len(content))
    head = httpx.head(url, headers=files.auth)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(content))


def test_model_url_with_single_encoded_hash_finds_the_stored_name(files: Files) -> None:
    # OutputModel stores "#" of a task name as a literal "%23" and downloads with that "%23" in the URL
    field = "/P/Trial [tfidf %2315].abc/models/model.joblib"
    assert files.upload(field, b"weights").status_code == 200
    url = f"{files.server.files_url}/P/Trial%20[tfidf%20%2315].abc/models/model.joblib"
    response = httpx.get(url, headers=files.auth)
    assert response.status_code == 200 and response.content == b"weights"


def test_files_upload_into_url_folder(files: Files) -> None:
    assert files.upload("x.txt", b"in folder", folder="some/folder").status_code == 200
    assert (files.root / "some/folder/x.txt").read_bytes() == b"in folder"


def test_files_upload_replaces_existing_file(files: Files) -> None:
    assert files.upload("/replace/state.json", b"first version, longer").status_code == 200
    assert files.upload("/replace/state.json", b"second").status_code == 200
    assert httpx.get(f"{files.server.files_url}/replace/state.json", headers=files.auth).content == b"second"


def test_files_missing_file_is_404(files: Files) -> None:
    assert httpx.get(f"{files.server.files_url}/no/such/file.txt", headers=files.auth).status_code == 404
    assert httpx.get(f"{files.server.files_url}/", headers=files.auth).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no_token", "wrong_token", "basic_auth"],
)
def test_files_without_valid_token_is_401(files: Files, headers: dict[str, str]) -> None:
    assert files.upload("/auth/secret.txt", b"data", headers=headers).status_code == 401
    assert not (files.root / "auth" / "secret.txt").exists()
    files.upload("/auth/exists.txt", b"data")
    response = httpx.get(f"{files.server.files_url}/auth/exists.txt", headers=headers)
    assert response.status_code == 401
    assert b"data" not in response.content


def test_files_token_signed_with_another_secret_is_401(files: Files) -> None:
    payload = jwt.decode(files.token, options={"verify_signature": False})
    forged = jwt.encode(payload, "another-secret-of-sufficient-length-0123456789", algorithm="HS256")
    response = httpx.get(f"{files.server.files_url}/auth/exists.txt", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "field",
    [
        "/../escaped.txt",
        "/a/../../escaped.txt",
        "..\\escaped.txt",
        "//tmp/escaped.txt",
        "/C:/escaped.txt",
    ],
)
def test_files_upload_escaping_root_is_refused(files: Files, field: str) -> None:
    before = _outside_files(files)
    response = files.upload(field, b"escaped")
    assert response.status_code == 403, response.text
    assert _outside_files(files) == before
    assert not Path("/tmp/escaped.txt").exists()


@pytest.mark.parametrize("folder", ["%2e%2e", "..%2F..", "%2e%2e%2fsub", "%2Ftmp", "..%5C.."])
def test_files_upload_to_folder_escaping_root_is_refused(files: Files, folder: str) -> None:
    before = _outside_files(files)
    response = files.upload("escaped.txt", b"escaped", folder=folder)
    assert response.status_code == 403, response.text
    assert _outside_files(files) == before
    assert not Path("/tmp/escaped.txt").exists()


def test_files_upload_with_one_bad_part_writes_nothing(files: Files) -> None:
    parts = {"/batch/good.txt": ("/batch/good.txt", b"good"), "/../bad.txt": ("/../bad.txt", b"bad")}
    response = httpx.post(f"{files.server.files_url}/", files=parts, headers=files.auth)
    assert response.status_code == 403
    assert not (files.root / "batch").exists()


@pytest.mark.parametrize(
    "raw_path",
    [
        "/files/../credentials.json",
        "/files/a/../../credentials.json",
        "/files/%2e%2e/credentials.json",
        "/files/%2E%2E%2Fcredentials.json",
        "/files/..%5Ccredentials.json",
        "/files//etc/hostname",
        "/files/%2Fetc%2Fhostname",
    ],
)
def test_files_download_escaping_root_is_refused(files: Files, raw_path: str) -> None:
    status, body = files.get_raw(raw_path)
    assert status == 403, (status, body)
    assert files.server.credentials().secret_key.encode() not in body


def test_files_download_through_symlink_out_of_root_is_refused(files: Files) -> None:
    link = files.root / "link_out"
    files.root.mkdir(parents=True, exist_ok=True)
    link.symlink_to(files.server.data_dir)
    status, body = files.get_raw("/files/link_out/credentials.json")
    assert status == 403
    assert files.server.credentials().secret_key.encode() not in body


def test_files_sdk_storage_manager_roundtrip(clearml: Env) -> None:
    content = bytes(range(256)) * 50
    result = clearml.run(
        f"""
        import json, os
        from clearml import StorageManager
        with open("blob.bin", "wb") as f:
            f.write({content!r})
        url = os.environ["CLEARML_FILES_HOST"] + "/store dir/file (1) ü.bin"
        uploaded = StorageManager.upload_file("blob.bin", url, wait_for_upload=True)
        print("RESULT " + json.dumps({{"url": uploaded}}))
        """
    )
    url = result.result["url"]
    on_disk = clearml.server.data_dir / "files" / "store dir" / "file (1) ü.bin"
    assert on_disk.read_bytes() == content

    fetched = clearml.run(
        f"""
        import hashlib, json
        from clearml import StorageManager
        path = StorageManager.get_local_copy({url!r}, extract_archive=False)
        print("RESULT " + json.dumps({{"sha": hashlib.sha256(open(path, "rb").read()).hexdigest()}}))
        """
    )
    assert fetched.result["sha"] == hashlib.sha256(content).hexdigest()
