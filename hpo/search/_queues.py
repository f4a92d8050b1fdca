"""Whether a worker serves each queue a search sends trials to: checked before anything is launched.

A trial enqueued on a queue no worker listens to waits forever (or, when the queue does not exist,
cannot be enqueued at all). :func:`check_served` asks the server once (``queues.get_all`` and
``workers.get_all``, through the SDK's public API client, so it works against any ClearML server)
and fails naming the queue, the workers it saw and the fix. Local workers the search starts
itself (``--local-workers N``) serve every queue of the search, so then there is nothing to check.

:func:`unserved` and :func:`unserved_message` are pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpo.errors import ConfigError


@dataclass(frozen=True)
class WorkerSeen:
    """A worker as the server lists it.

    Attributes:
        name: Its id (``host:gpu0``, ``hpo-local-1``...).
        queues: The names of the queues it listens to.
    """

    name: str
    queues: tuple[str, ...]


def unserved(queues: Sequence[str], workers: Sequence[WorkerSeen]) -> list[str]:
    """The queues of ``queues`` no worker of ``workers`` listens to, in the given order."""
    served = {queue for worker in workers for queue in worker.queues}
    return [queue for queue in queues if queue not in served]


def unserved_message(missing: Sequence[str], workers: Sequence[WorkerSeen], known_queues: Sequence[str]) -> str:
    """What :func:`check_served` says: the queues, whether they exist, the workers seen and the fix."""
    names = ", ".join(repr(q) for q in missing)
    absent = [q for q in missing if q not in known_queues]
    exists = f" ({', '.join(repr(q) for q in absent)} does not exist on the server)" if absent else ""
    if workers:
        seen = "; ".join(f"{w.name} on {', '.join(w.queues) or 'no queue'}" for w in workers)
        seen = f"workers seen: {seen}"
    else:
        seen = "no worker is registered on the server"
    first = missing[0]
    return (
        f"no worker serves queue {names}{exists}; {seen}. Fix: pass --local-workers N to run trials on this"
        f" machine, start agents on it (`hpo agent start --queue {first}` or `clearml-agent daemon --queue {first}`),"
        " or pass --queue with a served queue"
    )


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def workers_seen() -> tuple[list[WorkerSeen], list[str]]:
    """The workers the server lists (with their queues' names) and the names of its queues."""
    from clearml.backend_api.session.client import APIClient

    client = APIClient()
    names = {str(_get(q, "id")): str(_get(q, "name")) for q in client.queues.get_all(only_fields=["id", "name"])}
    workers = []
    for worker in client.workers.get_all():
        listened = []
        for queue in _get(worker, "queues") or []:
            queue_id = str(_get(queue, "id"))
            listened.append(names.get(queue_id) or str(_get(queue, "name") or queue_id))
        workers.append(WorkerSeen(str(_get(worker, "id")), tuple(listened)))
    return workers, sorted(names.values())


def check_served(queues: Sequence[str], local_workers: int) -> None:
    """Fail unless every queue has a worker (the search's own local workers serve them all).

    Call it after :func:`hpo.connection.connect` and before any task or study exists.

    Raises:
        ConfigError: A queue no worker serves; the message names it, the workers seen and the fix.
    """
    if local_workers > 0:
        return
    workers, known = workers_seen()
    missing = unserved(queues, workers)
    if missing:
        raise ConfigError(unserved_message(missing, workers, known))


__all__ = ["WorkerSeen", "check_served", "unserved", "unserved_message", "workers_seen"]
