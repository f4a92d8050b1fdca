"""``workers.*``: agents that register, report status and pull tasks from queues."""

from __future__ import annotations

from hpo.server._router import Router

router = Router()
