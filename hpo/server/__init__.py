"""The embedded ClearML-compatible server (``hpo server``).

Layering: ``routes/`` speak ClearML's REST services and know nothing of HTTP framing; ``store/``
persists documents and events and knows nothing of HTTP; ``_app.py`` is the only place that
knows the transport. Nothing here knows about hyperparameter optimisation.
"""

from hpo.server._app import create_app
from hpo.server._config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
