"""Whether a trial's weights are its own: where they are stored, and their hash.

Invariants:

- A candidate is promoted only when its weights live in a store every machine reaches and no
  later trial writes to: any remote URL (the files server, ``s3://``, ``gs://``, ``azure://``, ...),
  or a local path under the trial task's own output destination when that destination is a
  folder (a shared mount given as ``output_uri``; the SDK copies into a folder per task there).
  Any other local path (``file://`` or bare) is refused: it is where the script saved the file,
  typically an agent's code folder, which the next trial on that agent overwrites.
- The promotion records :func:`digest` of the weights it checked (``weights_sha256`` in the
  model's metadata); :func:`verify` compares a later download with it. The digest of a folder
  (a model package, extracted) covers every file's relative path and bytes, in sorted order.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from hpo.errors import HPOError, NotFoundError
from hpo.promotion import _records as records
from hpo.promotion._select import Candidate

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def local_path_of(url: str) -> Path | None:
    """The local file system path ``url`` names (``file://`` or a bare path), None for a remote URL."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme or (len(parsed.scheme) == 1 and url[1:3] in (":\\", ":/")):  # a bare or Windows path
        return Path(url)
    return None


def is_shared(url: str, destination: str | None) -> bool:
    """Whether weights at ``url`` are in a store every machine reaches and no other trial writes to.

    Args:
        url: The model's URL as ClearML records it.
        destination: The trial task's output destination (``output_uri``), if any.
    """
    path = local_path_of(url)
    if path is None:
        return bool(url)
    folder = local_path_of(destination) if destination else None
    if folder is None:
        return False
    return os.path.normpath(path).startswith(os.path.normpath(folder) + os.sep)


def refusal(trial: int, task_id: str, url: str) -> str:
    """Why a candidate with local weights at ``url`` is not promoted, and the fix."""
    where = local_path_of(url) or url
    return (
        f"trial {trial} (task {task_id}): its weights are the local file {where}, which the next trial on that"
        " machine overwrites and no other machine reads, so they may not be its own; not promoted. Fix: upload"
        " models to a shared store: Task.init(..., output_uri=True) in the script (the files server),"
        " `hpo search --output-uri URI`, or sdk.development.default_output_uri in the agents' clearml.conf"
    )


def digest(path: Path) -> str:
    """SHA-256 of a weights file, or of a folder's files (relative paths and bytes, sorted)."""
    if path.is_file():
        return _file_digest(path)
    total = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        total.update(item.relative_to(path).as_posix().encode() + b"\0")
        total.update(_file_digest(item).encode())
    return total.hexdigest()


def _file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def verify(model_id: str, path: Path, expected: str | None) -> None:
    """Check that the weights at ``path`` are the ones promoted (no check when nothing was recorded).

    Raises:
        HPOError: Their SHA-256 differs from the one recorded at promotion.
    """
    if not expected:
        return
    found = digest(path)
    if found != expected:
        raise HPOError(
            f"model {model_id}: the weights downloaded to {path} have SHA-256 {found}, but {expected} was"
            " recorded when it was promoted: the file in the store was replaced since; re-run the search"
            " (or the champion's trial) and promote again, and do not reuse model file URLs"
        )


def checked(candidate: Candidate) -> tuple[Candidate, str | None]:
    """``candidate`` with its model id resolved, and why it cannot be promoted (None when it can)."""
    model_id = candidate.model_id or records.output_model(candidate.task_id)
    if model_id is None:
        return candidate, f"trial {candidate.number}: task {candidate.task_id} saved no output model"
    url = records.read_model(model_id).url
    destination = records.output_destination(candidate.task_id) if local_path_of(url) is not None else None
    if not is_shared(url, destination):
        return candidate, refusal(candidate.number, candidate.task_id, url)
    return replace(candidate, model_id=model_id), None


def portable(found: list[Candidate], limit: int) -> tuple[list[Candidate], list[str]]:
    """The first ``limit`` of ``found`` (best first) whose weights are their own; and why others were refused."""
    kept: list[Candidate] = []
    refused: list[str] = []
    for candidate in found:
        if len(kept) >= limit:
            break
        resolved, why = checked(candidate)
        if why is None:
            kept.append(resolved)
        else:
            log.warning("not promoted: %s", why)
            refused.append(why)
    return kept, refused


def download(model_id: str, *, fresh: bool = False) -> Path:
    """The model's weights on this machine (a file, or a package's extracted folder).

    Raises:
        NotFoundError: They cannot be downloaded.
    """
    from clearml import Model

    model: Any = Model(model_id=model_id)
    try:
        path = model.get_local_copy(raise_on_error=True, force_download=fresh)
    except ValueError as err:  # the SDK's "could not retrieve a local copy"
        raise NotFoundError(
            f"cannot download the weights of model {model_id} from {model.url!r}: {err};"
            " check that the store in that URL answers"
        ) from err
    if not path:
        raise NotFoundError(f"model {model_id} has no downloadable weights at {model.url!r}")
    return Path(path)


__all__ = ["checked", "digest", "download", "portable", "is_shared", "local_path_of", "refusal", "verify"]
