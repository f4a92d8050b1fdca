"""The file server behind ``CLEARML_FILES_HOST`` (``{base}/files``).

The SDK uploads with ``POST {files_host}/`` as multipart, one part per file whose field name is
the object path (``/Project/Task.id/artifacts/a/a.npz``, unencoded), and downloads with ``GET
{files_host}/{path}``, percent-encoded, fetching each file twice (once for ``Content-Length``).
Reads and writes need the same Bearer token as the API.

Object paths are always relative to the files root: the one leading ``/`` the SDK sends is the
root itself. Anything that could leave the root once decoded (a ``..`` segment, a second leading
``/``, a drive letter, a NUL) is refused before the file system is touched, and the resolved
target must still lie inside the root (which also stops symlinks pointing out).

Uploads are streamed: each file part is spooled to disk after :data:`SPOOL_BYTES`, at most
:data:`MAX_PARTS` parts per request (the SDK sends one), and a body that stalls for the server's
``body_timeout_s`` is dropped (408). A path the file system cannot hold (a file where a folder is
needed, a directory where the file goes, a name or path over the OS limit) answers 4xx, never 500.

Storage faults (:data:`TRANSIENT_ERRNOS`: a read-only or full disk, lost permissions) are the
server's problem, not the client's: each is logged with the object path, the file and the errno,
and answered ``503`` with ``Retry-After``. An upload first waits them out here, retrying the write
for up to ``hold_s`` (:data:`HOLD_S`), because the SDK cannot: it sends an upload with urllib3
retries that never apply to a POST, then ``StorageHelper`` tries it 3 times back to back, with no
pause, and gives up (``storage/helper.py``: ``_HttpDriver``, ``_do_upload``). Holding the request
stays under the SDK's 30 s read timeout (``http.timeout.total``), so a fault that ends within
:data:`HOLD_S` costs an upload nothing, and one within about three times that still lands on the
SDK's last try. A DELETE, which urllib3 does retry on 503, honours ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hpo.server._auth import Credentials, check_token
from hpo.server._body import timed_stream
from hpo.server._errors import APIError

log = logging.getLogger(__name__)

_DRIVE = re.compile(r"^[A-Za-z]:")
# The SDK sends one file per request; a few more cost little. A file part's size is bounded by
# the disk only, but what is held in memory per request stays under MAX_PARTS * SPOOL_BYTES.
MAX_PARTS = 16
SPOOL_BYTES = 64 * 1024
_MAX_FIELD_BYTES = 64 * 1024
# What the OS says about a path, as the client's problem: (status, why)
_PATH_ERRORS = {
    errno.ENOTDIR: (409, "a parent of it is a file"),
    errno.EEXIST: (409, "a parent of it is a file"),
    errno.EISDIR: (409, "a directory is in the way"),
    errno.ENAMETOOLONG: (414, "a name or the whole path is longer than the file system allows"),
    errno.ELOOP: (400, "too many symbolic links"),
}
# What the OS says about the storage itself: the client should come back later.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EACCES,
        errno.EPERM,
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EMFILE,
        errno.ENFILE,
    }
)
# How long an upload waits out a storage fault before answering 503: below the SDK's 30 s read
# timeout for an upload (http.timeout.total), with room for the write itself.
HOLD_S = 20.0
RETRY_AFTER_S = 5
_FIRST_PAUSE_S, _MAX_PAUSE_S = 0.2, 2.0


class _Parser(MultiPartParser):
    spool_max_size = SPOOL_BYTES  # spill parts to disk early: memory per request stays small


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
        with contextlib.suppress(OSError):  # a read-only disk keeps the partial file: the fault wins
            Path(tmp).unlink(missing_ok=True)
        raise


def _errno_name(err: OSError) -> str:
    return errno.errorcode.get(err.errno or 0, str(err.errno))


def path_error(err: OSError, path: str) -> APIError:
    """The answer for an OS error on ``path``: 4xx for the client's path, 503 for a storage fault.

    Only an error that is neither answers 500.
    """
    if err.errno in TRANSIENT_ERRNOS:
        return APIError(
            503,
            0,
            f"File server storage unavailable for {path!r}: {err.strerror} ({_errno_name(err)}); "
            f"retry in {RETRY_AFTER_S} s",
        )
    status, why = _PATH_ERRORS.get(err.errno or 0, (500, err.strerror or "file system error"))
    if status == 500:
        return APIError(500, 0, f"File server error on {path!r}: {why} ({_errno_name(err)})")
    return APIError(status, 0, f"Cannot store {path!r}: {why}; choose another path")


def _log_fault(err: OSError, action: str, path: str, target: Path | str) -> None:
    log.warning("file server: cannot %s %s (%s): %s %s", action, path, target, _errno_name(err), err.strerror)


async def _store(part: UploadFile, target: Path, path: str, hold_s: float) -> None:
    """Write one part to ``target``, waiting out a storage fault for up to ``hold_s``.

    Raises:
        APIError: 503 when the fault outlasts ``hold_s``; the path's 4xx/500 for any other error.
    """
    started = time.monotonic()
    pause = _FIRST_PAUSE_S
    fault: OSError | None = None
    while True:
        await part.seek(0)
        try:
            await run_in_threadpool(_write, part.file, target)
        except OSError as err:
            waited = time.monotonic() - started
            if err.errno not in TRANSIENT_ERRNOS or waited >= hold_s:
                if err.errno in TRANSIENT_ERRNOS:
                    log.error(
                        "file server: gave up writing %s (%s) after %.1f s: %s %s; answered 503",
                        path, target, waited, _errno_name(err), err.strerror,
                    )  # fmt: skip
                raise path_error(err, path) from err
            if fault is None:
                _log_fault(err, f"write (retrying for up to {hold_s:g} s)", path, target)
            fault = err
            await asyncio.sleep(min(pause, hold_s - waited))  # the last try is at hold_s
            pause = min(2 * pause, _MAX_PAUSE_S)
            continue
        if fault is not None:
            log.warning(
                "file server: wrote %s after %.1f s of %s", path, time.monotonic() - started, _errno_name(fault)
            )
        return


def _answer(err: APIError) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if err.code == 503 else None
    return JSONResponse({"error": err.msg}, status_code=err.code, headers=headers)


async def _upload(root: Path, request: Request, folder: str, timeout_s: float, hold_s: float) -> Response:
    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise APIError(400, 12, "Upload must be multipart/form-data, one part per file, field name = object path")
    parser = _Parser(
        request.headers,
        timed_stream(request, timeout_s),
        max_files=MAX_PARTS,
        max_fields=MAX_PARTS,
        max_part_size=_MAX_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise APIError(400, 12, f"Invalid upload: {err.message}") from err
    try:
        parts = [(field, value) for field, value in form.multi_items() if isinstance(value, UploadFile)]
        if not parts:
            raise APIError(400, 12, "Upload carries no file part: send multipart/form-data, field name = object path")
        # Validate every part before writing any, so a bad request writes nothing.
        targets = [(resolve(root, object_path("/" + folder, _rooted(field))), part) for field, part in parts]
        for target, part in targets:
            await _store(part, target, "/" + target.relative_to(root.resolve()).as_posix(), hold_s)
    finally:
        await form.close()
    base = root.resolve()
    return JSONResponse({"uploaded": ["/" + target.relative_to(base).as_posix() for target, _ in targets]})


def _rooted(field: str) -> str:
    return field if field.startswith(("/", "\\")) else "/" + field


def _file(root: Path, path: str) -> Path:
    relative = object_path("/" + path)
    try:
        target = resolve(root, relative) if relative else None
        if target is not None and not target.is_file() and "#" in relative:
            # The SDK stores a '#' of a task name as a literal "%23" in the object path, then puts
            # that same "%23" in the download URL, which decodes back to '#': look for the stored name.
            target = resolve(root, relative.replace("#", "%23"))
        found = target is not None and target.is_file()
    except OSError as err:
        if err.errno != errno.ENAMETOOLONG:
            raise path_error(err, "/" + relative) from err
        found = False  # too long to exist
    if target is None or not found:
        raise APIError(404, 0, f"No such file: /{relative}")
    return target


def make_endpoint(
    root: Path, creds: Credentials, timeout_s: float, hold_s: float = HOLD_S
) -> Callable[[Request], Awaitable[Response]]:
    """The ASGI endpoint serving ``root`` for ``/files`` and ``/files/{path}``.

    Args:
        root: The files root.
        creds: Whose tokens are accepted.
        timeout_s: Longest wait for the next chunk of an upload.
        hold_s: Longest an upload waits out a storage fault before answering 503.
    """

    async def files(request: Request) -> Response:
        try:
            check_token(creds, request.headers.get("authorization"))
            path = request.path_params.get("path", "")
            if request.method in ("POST", "PUT"):
                return await _upload(root, request, path, timeout_s, hold_s)
            target = _file(root, path)
            if request.method == "DELETE":
                target.unlink()
                return JSONResponse({"deleted": "/" + target.relative_to(root.resolve()).as_posix()})
            return FileResponse(target)
        except OSError as err:
            shown = "/" + request.path_params.get("path", "")
            problem = path_error(err, shown)
            if problem.code >= 500:
                _log_fault(err, request.method, shown, err.filename or root)
            return _answer(problem)
        except APIError as err:
            return _answer(err)

    return files
