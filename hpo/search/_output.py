"""Where trials upload their models and artifacts: each clone's ``output.destination``.

A script run without ``output_uri`` registers its model as a local ``file://`` path in the
agent's work folder, which the next trial on that agent overwrites; an upload store every
machine reaches avoids that. The rule, decided once per search by :func:`output_target` and
applied to each clone by :func:`set_clone_output`:

- ``--output-uri URI``: every clone gets ``URI`` (checked before launch; remotely the SDK uploads
  to the task's destination and ignores ``Task.init(output_uri=...)``, so this wins over the
  script's own);
- else, against a configured (non-embedded) server: the server's files host, for clones whose
  template has no destination of its own (a run made with ``Task.init(output_uri=...)`` keeps it);
- else (the embedded default) nothing is set here: the SDK configuration the embedded server hands
  its agents names the default upload store.

:func:`clone_destination` is pure.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hpo.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputTarget:
    """The upload store a search gives its clones.

    Attributes:
        uri: The destination, or None to leave clones as their template has them.
        explicit: Whether ``--output-uri`` named it (then it replaces the template's own destination).
    """

    uri: str | None = None
    explicit: bool = False


def clone_destination(current: str | None, target: OutputTarget) -> str | None:
    """The destination to set on a clone whose destination is ``current``; None to leave it."""
    if not target.uri or current == target.uri:
        return None
    if target.explicit or not current:
        return target.uri
    return None  # the script's own store


def check_output_uri(uri: str, timeout: float = 5.0) -> str:
    """``uri`` without a trailing ``/``, after checking this machine can write there.

    An HTTP(S) files server must answer; any other store (``s3://``, ``gs://``, ``azure://``,
    ``file://``, a path) must be one the SDK has credentials for, and accept a test file (the SDK's
    own ``check_write_permissions``: written, then deleted).

    Raises:
        ConfigError: Nobody answers, or the store refuses the test write; names the URI and the fix.
    """
    uri = uri.strip().rstrip("/")
    fix = "fix --output-uri (or the store's credentials in clearml.conf), or leave it out"
    if not uri:
        raise ConfigError(f"--output-uri: empty; {fix}")
    if uri.startswith(("http://", "https://")):
        try:
            httpx.get(f"{uri}/", timeout=timeout)
        except httpx.HTTPError as err:
            raise ConfigError(f"--output-uri {uri}: no server answers ({err}); {fix}") from err
        return uri
    local = uri.removeprefix("file://") if uri.startswith("file://") or "://" not in uri else None
    if local is not None and not Path(local).expanduser().is_dir():
        raise ConfigError(f"--output-uri {uri}: no such folder; create it where every worker mounts it, or {fix}")
    from clearml.storage.helper import StorageHelper

    with warnings.catch_warnings():
        # The SDK's vendored config parser calls pyparsing with deprecated argument names.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            helper = StorageHelper.get(uri)  # type: ignore[no-untyped-call]
        except Exception as err:  # the SDK raises assorted errors for unusable URLs
            raise ConfigError(f"--output-uri {uri}: the ClearML SDK cannot use it ({err}); {fix}") from err
        if helper is None:
            raise ConfigError(f"--output-uri {uri}: no credentials or driver for this store; {fix}")
        try:
            helper.check_write_permissions(uri)
        except Exception as err:  # ValueError from the SDK, or the driver's own error
            raise ConfigError(f"--output-uri {uri}: cannot write there ({err}); {fix}") from err
    return uri


def output_target(output_uri: str | None, embedded: bool) -> OutputTarget:
    """The rule for a search's clones (see the module docstring), checked before launch.

    Call it after :func:`hpo.connection.connect`.

    Raises:
        ConfigError: ``--output-uri`` cannot be written to.
        ServerError: No ``--output-uri``, a configured server, and its files host does not answer.
    """
    if output_uri is not None:
        return OutputTarget(check_output_uri(output_uri), explicit=True)
    if embedded:
        return OutputTarget()
    from hpo.connection import check_files_server

    return OutputTarget(check_files_server())


def set_clone_output(clone: Any, target: OutputTarget) -> None:
    """Give a draft clone its upload destination (``tasks.edit output_dest``) by ``target``'s rule."""
    current = getattr(getattr(clone.data, "output", None), "destination", None)
    destination = clone_destination(str(current) if current else None, target)
    if destination is not None:
        clone.storage_uri = destination  # the setter edits output.destination without a write test per clone
        log.debug("task %s uploads to %s", clone.id, destination)


__all__ = ["OutputTarget", "check_output_uri", "clone_destination", "output_target", "set_clone_output"]
