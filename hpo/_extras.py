"""Optional dependencies: importing one on first use, or naming the ``pip install`` that adds it.

The core install (``pip install clearml-hpo``) runs the main job; heavier features live in extras
(``pyproject.toml`` ``[project.optional-dependencies]``): ``bert`` (torch, transformers), ``converge``
(torch for ``--stop-when converged``), ``postgres`` (a PostgreSQL study storage), ``parquet``
(pyarrow for Parquet tables). Every place that needs one calls :func:`require_extra` (or, for a
failure it caught itself, :func:`missing_extra`), so a missing extra always reads the same::

    reading t.parquet: needs the package 'pyarrow', which is not installed; pip install 'clearml-hpo[parquet]'
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from types import ModuleType

from hpo.errors import ConfigError

DISTRIBUTION = "clearml-hpo"
# Installed first, alone, when an extra pins it: an unpinned resolve of torch pulls a multi-GB CUDA build.
_FIRST = ("torch",)


def install_command(extra: str) -> str:
    """The shell command that installs ``extra``, e.g. ``pip install 'clearml-hpo[postgres]'``.

    A pin of torch in the extra (read from this package's own metadata, so the pin lives only in
    ``pyproject.toml``) is installed first, as the README's install does.
    """
    first = [req for req in _extra_requirements(extra) if _name(req) in _FIRST and "==" in req]
    command = f"pip install '{DISTRIBUTION}[{extra}]'"
    return " && ".join([f"pip install {req}" for req in first] + [command])


def missing_extra(where: str, package: str, extra: str, err: BaseException | None = None) -> ConfigError:
    """The error for ``package`` (of ``extra``) missing where ``where`` needs it.

    Args:
        where: What needs it, as the user names it (``--stop-when converged``, ``template 'bert'``).
        package: The missing import or distribution name.
        extra: The extra of this package that installs it.
        err: The ImportError seen, if any; its text is kept when it names another module.
    """
    seen = getattr(err, "name", None)
    detail = f" (importing it failed on {seen!r})" if seen and seen.split(".")[0] != package.split(".")[0] else ""
    return ConfigError(
        f"{where}: needs the package {package!r}, which is not installed{detail}; {install_command(extra)}"
    )


def require_extra(module: str, extra: str, where: str) -> ModuleType:
    """Import ``module``, or fail naming the ``pip install`` of ``extra`` that adds it.

    Args:
        module: The module to import (``torch``, ``pyarrow``, ``optuna.terminator``).
        extra: The extra of this package that installs it.
        where: What needs it, as the user names it, for the message.

    Returns:
        The imported module.

    Raises:
        ConfigError: ``module`` (or something it imports) is not installed.
    """
    try:
        __import__(module)  # through builtins.__import__, which a test can patch to hide a package
    except ImportError as err:
        raise missing_extra(where, module.split(".")[0], extra, err) from err
    return sys.modules[module]


def _extra_requirements(extra: str) -> list[str]:
    """This package's requirements of ``extra``, without their markers (empty if not installed)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [req.split(";", 1)[0].strip() for req in requires if marker.search(req)]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    return match.group(0).lower() if match else ""


__all__ = ["DISTRIBUTION", "install_command", "missing_extra", "require_extra"]
