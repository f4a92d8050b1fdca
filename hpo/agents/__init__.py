"""Local ``clearml-agent`` workers that run queued tasks in the current Python environment.

``hpo agent start|stop|status`` is a thin layer over :mod:`hpo.agents._local`; nothing here is
needed on the workers of a real ClearML Server (see ``docs/agents.md``).
"""

from __future__ import annotations

from hpo.agents._local import (
    AgentStatus,
    LocalAgent,
    agents_dir,
    read_state,
    recorded,
    restart,
    start,
    status,
    stop,
)
from hpo.agents._watch import AgentWatch, watch_notes

__all__ = [
    "AgentStatus",
    "AgentWatch",
    "LocalAgent",
    "agents_dir",
    "read_state",
    "recorded",
    "restart",
    "start",
    "status",
    "stop",
    "watch_notes",
]
