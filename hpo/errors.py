"""Exceptions of clearml-hpo.

::

    HPOError                 root: every error the suite raises on purpose
    ├── ConfigError          bad configuration or input (a file, an option, a value)
    ├── ServerError          the ClearML server is unreachable or the embedded one won't start
    └── NotFoundError        something asked for does not exist (a study, a template, a model)

The CLI prints ``[error] <message>`` for these and exits 1; a message names the problem, the
value that caused it and the fix.
"""

from __future__ import annotations


class HPOError(Exception):
    """Root of the suite's exceptions."""


class ConfigError(HPOError):
    """Configuration or input is invalid."""


class ServerError(HPOError):
    """A ClearML server cannot be reached or started."""


class NotFoundError(HPOError):
    """A requested object does not exist."""


__all__ = ["ConfigError", "HPOError", "NotFoundError", "ServerError"]
