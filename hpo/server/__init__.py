"""The embedded ClearML-compatible server (``hpo server``).

Layering: ``routes/`` speak ClearML's REST services and know nothing of HTTP framing; ``store/``
persists documents and events and knows nothing of HTTP; ``_app.py`` is the only place that
knows the transport. Nothing here knows about hyperparameter optimisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.server._config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, check_port, client_url, runtime_config
from hpo.server._datadir import last_port, private_dir, remove_state, state_path

if TYPE_CHECKING:
    from hpo.server._app import create_app
    from hpo.server._auth import Credentials, load_or_create_credentials
    from hpo.server._serve import serve, serve_foreground


def __getattr__(name: str) -> Any:
    # The app (Starlette, the routes, the web UI) and serving (uvicorn) take a third of a second
    # each to import, the credentials (jwt) a tenth: only what needs them pays for them, not
    # `hpo status` & co, which read a running server's address through hpo.local_server.
    if name == "create_app":
        from hpo.server import _app

        return _app.create_app
    if name in ("Credentials", "load_or_create_credentials"):
        from hpo.server import _auth

        return getattr(_auth, name)
    if name in ("serve", "serve_foreground"):
        from hpo.server import _serve

        return getattr(_serve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Credentials",
    "ServerConfig",
    "check_port",
    "client_url",
    "create_app",
    "last_port",
    "load_or_create_credentials",
    "private_dir",
    "remove_state",
    "runtime_config",
    "serve",
    "serve_foreground",
    "state_path",
]
