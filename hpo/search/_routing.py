"""Which queue gets the next trial: the one with the least backlog per idle worker.

:func:`choose` is pure; :func:`queue_loads` asks the server (two calls: queues and workers)
through the SDK's public API client, so it works against any ClearML server.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueLoad:
    """A queue as routing sees it.

    Attributes:
        name: Queue name.
        backlog: Tasks waiting in it.
        workers: Workers listening to it.
        idle: Of those, workers running nothing now.
    """

    name: str
    backlog: int
    workers: int
    idle: int

    def score(self) -> float:
        """Backlog per idle worker (smoothed: an idle worker absorbs one task); no workers = never."""
        if self.workers == 0:
            return math.inf
        return (self.backlog + 1) / (self.idle + 1) + self.backlog / self.workers


def choose(loads: Sequence[QueueLoad]) -> str:
    """The queue for the next trial. Ties go to the queue listed first.

    When no queue has a worker the least loaded one is chosen anyway: a worker may join later.

    Raises:
        ValueError: ``loads`` is empty.
    """
    if not loads:
        raise ValueError("no queue to choose from")
    staffed = [load for load in loads if load.workers]
    pool = staffed or list(loads)
    return min(enumerate(pool), key=lambda pair: (pair[1].score() if staffed else pair[1].backlog, pair[0]))[1].name


def assign(loads: Sequence[QueueLoad], count: int) -> list[str]:
    """Queues for ``count`` new trials, each placement updating the loads the next one sees.

    A trial placed on a queue with an idle worker takes that worker; otherwise it joins the backlog.
    """
    current = {load.name: load for load in loads}
    order = [load.name for load in loads]
    out = []
    for _ in range(count):
        name = choose([current[n] for n in order])
        load = current[name]
        if load.idle:
            current[name] = QueueLoad(name, load.backlog, load.workers, load.idle - 1)
        else:
            current[name] = QueueLoad(name, load.backlog + 1, load.workers, load.idle)
        out.append(name)
    return out


def _queue_listeners(workers: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """``{queue id: (workers, idle workers)}`` from ``workers.get_all``."""
    out: dict[str, tuple[int, int]] = {}
    for worker in workers:
        busy = bool(_get(worker, "task"))
        for queue in _get(worker, "queues") or []:
            queue_id = str(_get(queue, "id"))
            total, idle = out.get(queue_id, (0, 0))
            out[queue_id] = (total + 1, idle + (0 if busy else 1))
    return out


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def queue_loads(names: Sequence[str]) -> list[QueueLoad]:
    """The current load of queues ``names`` (missing queues have no workers and no backlog)."""
    from clearml.backend_api.session.client import APIClient

    client = APIClient()
    queues = {str(_get(q, "name")): q for q in client.queues.get_all(only_fields=["id", "name", "entries"])}
    listeners = _queue_listeners(client.workers.get_all())
    loads = []
    for name in names:
        queue = queues.get(name)
        queue_id = str(_get(queue, "id")) if queue is not None else ""
        entries = _get(queue, "entries") if queue is not None else None
        total, idle = listeners.get(queue_id, (0, 0))
        loads.append(QueueLoad(name, len(entries or []), total, idle))
    return loads


__all__ = ["QueueLoad", "assign", "choose", "queue_loads"]
