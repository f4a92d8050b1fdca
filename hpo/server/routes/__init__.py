"""Route modules, one per ClearML service, and the server's periodic jobs (the domain's)."""

from __future__ import annotations

from collections.abc import Callable

from hpo.server._config import ServerConfig
from hpo.server._router import Handler, Router, Runtime
from hpo.server.domain import watch_tasks
from hpo.server.routes import auth, events, models, projects, queues, tasks, users, workers
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


def handlers() -> dict[str, Handler]:
    """Every endpoint's handler, by name.

    Raises:
        ValueError: Two route modules register the same endpoint (a programming error).
    """
    found: dict[str, Handler] = {}
    for router in ROUTERS:
        for name, handler in router.handlers.items():
            if name in found:
                where = f"{found[name].__module__} and {handler.__module__}"
                raise ValueError(f"endpoint {name} is registered twice: {where}")
            found[name] = handler
    return found


PERIODIC: list[Callable[[Store, Runtime, ServerConfig], None]] = [
    watch_tasks,  # fail tasks whose worker died, finish unanswered stops
]

__all__ = ["PERIODIC", "ROUTERS", "handlers"]
