"""The embedded ClearML-compatible server (``hpo server``).

Layering: ``routes/`` speak ClearML's REST services and know nothing of HTTP framing; ``store/``
persists documents and events and knows nothing of HTTP; ``_app.py`` is the only place that
knows the transport. Nothing here knows about hyperparameter optimisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.server._app import create_app
from hpo.server._config import DEFAULT_PORT, ServerConfig, runtime_config

if TYPE_CHECKING:
    from hpo.server._serve import serve, serve_foreground


def __getattr__(name: str) -> Any:
    # serving imports uvicorn (a third of a second): only commands that serve pay for it
    if name in ("serve", "serve_foreground"):
        from hpo.server import _serve

        return getattr(_serve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_PORT", "ServerConfig", "create_app", "runtime_config", "serve", "serve_foreground"]
