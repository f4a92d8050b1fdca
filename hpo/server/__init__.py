"""The embedded ClearML-compatible server (``hpo server``).

Layering: ``routes/`` speak ClearML's REST services and know nothing of HTTP framing; ``store/``
persists documents and events and knows nothing of HTTP; ``_app.py`` is the only place that
knows the transport. Nothing here knows about hyperparameter optimisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.server._config import DEFAULT_PORT, ServerConfig, runtime_config

if TYPE_CHECKING:
    from hpo.server._app import create_app
    from hpo.server._serve import serve, serve_foreground


def __getattr__(name: str) -> Any:
    # The app (Starlette, the routes, the web UI) and serving (uvicorn) take a third of a second
    # each to import: only what builds or serves the app pays for them, not `hpo status` & co,
    # which reach hpo.server._process for the address of a running server.
    if name == "create_app":
        from hpo.server import _app

        return _app.create_app
    if name in ("serve", "serve_foreground"):
        from hpo.server import _serve

        return getattr(_serve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_PORT", "ServerConfig", "create_app", "runtime_config", "serve", "serve_foreground"]
