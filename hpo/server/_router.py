"""Endpoint registration and the request object handlers receive.

Each route module (``routes/tasks.py`` ...) owns a :class:`Router` and registers handlers under
ClearML endpoint names (``tasks.get_all``). A handler gets a :class:`Call` and returns the
``data`` part of the response; it raises :class:`~hpo.server._errors.APIError` to fail. Handlers
stage writes on ``call.store``; the app commits them after the handler returns, or rolls them
back when it raises.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from hpo.server._auth import Credentials, Identity
from hpo.server._config import ServerConfig
from hpo.server._errors import missing_field, validation
from hpo.server.store import Store

Data = dict[str, Any]
T = TypeVar("T")


@dataclass
class Runtime:
    """Process-wide state that is not persisted (workers, as in ClearML's Redis)."""

    credentials: Credentials
    workers: dict[str, Data] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)


@dataclass
class Call:
    """One API request as a handler sees it."""

    endpoint: str
    body: Data
    store: Store
    identity: Identity
    config: ServerConfig
    runtime: Runtime
    lines: list[Data] | None = None
    rejected: list[str] = field(default_factory=list)  # problems of the batch lines the schema refused

    def text(self, name: str, required: bool = True, default: str | None = None) -> str:
        return self._typed(name, str, required, default)  # type: ignore[return-value]

    def opt_text(self, name: str) -> str | None:
        return self._typed(name, str, False, None)

    def items(self, name: str) -> list[Any]:
        value = self.body.get(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise validation(f"'{name}' must be a list, got {type(value).__name__}")
        return value

    def mapping(self, name: str) -> Data | None:
        return self._typed(name, dict, False, None)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise validation(f"'{name}' must be true or false, got {value!r}")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.body.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise validation(f"'{name}' must be an integer, got {value!r}")
        return value

    def _typed(self, name: str, kind: type[T], required: bool, default: T | None) -> T | None:
        value = self.body.get(name)
        if value is None:
            if required:
                raise missing_field(name)
            return default
        if not isinstance(value, kind):
            raise validation(f"'{name}' must be a {kind.__name__}, got {type(value).__name__}")
        return value


Handler = Callable[[Call], Data | None]


class Router:
    """A route module's endpoints."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def endpoint(self, *names: str) -> Callable[[Handler], Handler]:
        """Register the decorated handler under ``names``.

        Raises:
            ValueError: A name is already registered (two handlers would fight over it).
        """

        def register(handler: Handler) -> Handler:
            for name in names:
                if name in self.handlers:
                    raise ValueError(f"endpoint {name} is registered twice in {handler.__module__}")
                self.handlers[name] = handler
            return handler

        return register


def new_id() -> str:
    return uuid.uuid4().hex


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "+00:00")
