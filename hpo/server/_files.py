"""The file server behind ``CLEARML_FILES_HOST`` (``{base}/files``).

The SDK uploads with ``POST {files_host}/`` as multipart, one part per file whose field name is
the object path (``/Project/Task.id/artifacts/a/a.npz``), and downloads with ``GET
{files_host}/{path}``, percent-encoded. Reads and writes need the same Bearer token as the API,
and no decoded path may leave the files root.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hpo.server._auth import Credentials, check_token
from hpo.server._errors import APIError


def resolve(root: Path, relative: str) -> Path:
    """The file for an object path, refusing anything outside ``root``."""
    clean = relative.replace("\\", "/").lstrip("/")
    if not clean or "\x00" in clean:
        raise APIError(400, 12, f"Invalid file path: {relative!r}")
    target = (root / clean).resolve()
    if not target.is_relative_to(root.resolve()) or target == root.resolve():
        raise APIError(403, 0, f"Path escapes the file server root: {relative!r}")
    return target


def _error(err: APIError) -> Response:
    return JSONResponse({"error": err.msg}, status_code=err.code)


async def _store_upload(root: Path, part: UploadFile, name: str) -> str:
    target = resolve(root, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await part.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return "/" + target.relative_to(root.resolve()).as_posix()


def make_endpoint(root: Path, creds: Credentials) -> Callable[[Request], Awaitable[Response]]:
    async def files(request: Request) -> Response:
        try:
            check_token(creds, request.headers.get("authorization"))
            path = request.path_params.get("path", "")
            if request.method in ("POST", "PUT"):
                form = await request.form(max_files=10_000, max_part_size=64 * 1024 * 1024)
                stored: list[str] = []
                for field, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        name = field if field.startswith("/") or not path else f"{path}/{field}"
                        stored.append(await _store_upload(root, value, name))
                if not stored:
                    raise APIError(400, 12, "Upload carries no file part")
                return JSONResponse({"uploaded": stored})
            target = resolve(root, path)
            if request.method == "DELETE":
                if not target.is_file():
                    raise APIError(404, 0, f"No such file: {path}")
                target.unlink()
                return JSONResponse({"deleted": path})
            if not target.is_file():
                raise APIError(404, 0, f"No such file: {path}")
            return FileResponse(target)
        except APIError as err:
            return _error(err)

    return files
