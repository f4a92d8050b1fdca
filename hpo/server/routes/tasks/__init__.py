"""``tasks.*``: the task service, split by concern; ``router`` holds every endpoint."""

from __future__ import annotations

from hpo.server._router import Router
from hpo.server.routes.tasks import _crud, _fields, _many, _status

router = Router()
for _module in (_crud, _status, _fields, _many):
    router.handlers.update(_module.router.handlers)

__all__ = ["router"]
