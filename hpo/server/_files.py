"""The file server behind ``CLEARML_FILES_HOST`` (``{base}/files``).

The SDK uploads with ``POST {files_host}/`` as multipart, one part per file whose field name is
the object path (``/Project/Task.id/artifacts/a/a.npz``, unencoded), and downloads with ``GET
{files_host}/{path}``, percent-encoded, fetching each file twice (once for ``Content-Length``).
Reads and writes need the same Bearer token as the API.

Object paths are always relative to the files root: the one leading ``/`` the SDK sends is the
root itself. Anything that could leave the root once decoded (a ``..`` segment, a second leading
``/``, a drive letter, a NUL) is refused before the file system is touched, and the resolved
target must still lie inside the root (which also stops symlinks pointing out).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hpo.server._auth import Credentials, check_token
from hpo.server._errors import APIError

_DRIVE = re.compile(r"^[A-Za-z]:")
# Many artifacts of one task may come in one request; a part's size is bounded by the disk only.
_MAX_FILES = 10_000


def _escape(path: str, why: str) -> APIError:
    return APIError(403, 0, f"Path escapes the file server root ({why}): {path!r}; use a path relative to the root")


def object_path(*parts: str) -> str:
    """Join URL folder and field name into a root-relative object path, refusing escapes.

    Each part is a ``/``-rooted object path (``/p/t.id/a.txt``); backslashes count as ``/``.

    Raises:
        APIError: 400 for a malformed path, 403 for one that would leave the root.
    """
    joined = ""
    for part in parts:
        clean = part.replace("\\", "/")
        if "\x00" in clean:
            raise APIError(400, 12, f"Invalid file path: {part!r} holds a NUL byte")
        if clean.startswith("//"):
            raise _escape(part, "absolute path")
        segments = [s for s in clean.split("/") if s]
        if ".." in segments:
            raise _escape(part, "'..' segment")
        if segments and _DRIVE.match(segments[0]):
            raise _escape(part, "drive letter")
        joined = "/".join(s for s in (joined, *segments) if s)
    return joined


def resolve(root: Path, relative: str) -> Path:
    """The file for a root-relative object path; it must lie strictly inside ``root``."""
    base = root.resolve()
    target = (base / relative).resolve()
    if target == base or not target.is_relative_to(base):
        raise _escape(relative, "outside the root")
    return target


def _write(source: BinaryIO, target: Path) -> None:
    """Copy an upload into place atomically, so a concurrent download never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _upload(root: Path, request: Request, folder: str) -> Response:
    form = await request.form(max_files=_MAX_FILES)
    try:
        parts = [(field, value) for field, value in form.multi_items() if isinstance(value, UploadFile)]
        if not parts:
            raise APIError(400, 12, "Upload carries no file part: send multipart/form-data, field name = object path")
        # Validate every part before writing any, so a bad request writes nothing.
        targets = [(resolve(root, object_path("/" + folder, _rooted(field))), part) for field, part in parts]
        for target, part in targets:
            await part.seek(0)
            await run_in_threadpool(_write, part.file, target)
    finally:
        await form.close()
    base = root.resolve()
    return JSONResponse({"uploaded": ["/" + target.relative_to(base).as_posix() for target, _ in targets]})


def _rooted(field: str) -> str:
    return field if field.startswith(("/", "\\")) else "/" + field


def _file(root: Path, path: str) -> Path:
    relative = object_path("/" + path)
    target = resolve(root, relative) if relative else None
    if target is not None and not target.is_file() and "#" in relative:
        # The SDK stores a '#' of a task name as a literal "%23" in the object path, then puts that
        # same "%23" in the download URL, which decodes back to '#': look for the stored name.
        target = resolve(root, relative.replace("#", "%23"))
    if target is None or not target.is_file():
        raise APIError(404, 0, f"No such file: /{relative}")
    return target


def make_endpoint(root: Path, creds: Credentials) -> Callable[[Request], Awaitable[Response]]:
    """The ASGI endpoint serving ``root`` for ``/files`` and ``/files/{path}``."""

    async def files(request: Request) -> Response:
        try:
            check_token(creds, request.headers.get("authorization"))
            path = request.path_params.get("path", "")
            if request.method in ("POST", "PUT"):
                return await _upload(root, request, path)
            target = _file(root, path)
            if request.method == "DELETE":
                target.unlink()
                return JSONResponse({"deleted": "/" + target.relative_to(root.resolve()).as_posix()})
            return FileResponse(target)
        except APIError as err:
            return JSONResponse({"error": err.msg}, status_code=err.code)

    return files
