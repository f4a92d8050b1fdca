"""Route modules, one per ClearML service, and the server's periodic jobs."""

from __future__ import annotations

from collections.abc import Callable

from hpo.server._config import ServerConfig
from hpo.server._router import Router, Runtime
from hpo.server.routes import _watchdog, auth, events, models, projects, queues, tasks, users, workers
from hpo.server.store import Store

ROUTERS: list[Router] = [
    auth.router,
    users.router,
    projects.router,
    tasks.router,
    events.router,
    queues.router,
    models.router,
    workers.router,
]

PERIODIC: list[Callable[[Store, Runtime, ServerConfig], None]] = [
    _watchdog.watch_tasks,  # fail tasks whose worker died, finish unanswered stops
]

__all__ = ["PERIODIC", "ROUTERS"]
