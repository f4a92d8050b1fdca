"""A mutex that works through any ClearML server, which has no transactions.

The primitive is one every ClearML server enforces atomically: queue names are unique, so
``queues.create`` of a given name succeeds for exactly one caller until that queue is deleted.
Holding the lock is owning the queue ``hpo-lock-<hash of the key>``; releasing is deleting it
by id. The queue's tags record the holder and the lease's end, so a lock left by a killed process
is broken after ``ttl_s``: the breaker deletes the stale queue *by the id it saw* (never by name),
so two breakers never delete each other's fresh lock, and then race on ``queues.create`` again.

Invariant: at most one process holds a key's lock at a time, as long as a holder finishes its
critical section within ``ttl_s`` (callers re-check with :meth:`ServerLock.check` before writing).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import socket
import time
from types import TracebackType
from typing import Any

from hpo.errors import HPOError

log = logging.getLogger(__name__)

PREFIX = "hpo-lock-"


class LockError(HPOError):
    """The lock could not be taken in time, or was lost while held."""


def lock_name(key: str) -> str:
    """The queue name that stands for ``key``'s lock."""
    return PREFIX + hashlib.sha1(key.encode()).hexdigest()[:16]


def _tag(tags: list[str], prefix: str) -> str | None:
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), None)


class ServerLock:
    """Context manager holding ``key``'s lock on the ClearML server the SDK is configured for.

    Args:
        key: What is locked (any string; hashed into the queue name).
        ttl_s: Lease length: a lock older than this is considered abandoned and may be broken.
        wait_s: How long to wait for another holder before giving up.
        poll_s: Mean pause between attempts (jittered so that waiters do not move in step).
    """

    def __init__(self, key: str, *, ttl_s: float = 120.0, wait_s: float = 90.0, poll_s: float = 0.2) -> None:
        self.key = key
        self.name = lock_name(key)
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.queue_id: str | None = None
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            from clearml.backend_api.session.client import APIClient

            self._client = APIClient()
        return self._client

    def _current(self) -> tuple[str, list[str]] | None:
        """The lock queue as the server has it now: ``(id, tags)``, or None."""
        found = self._api().queues.get_all(name=f"^{re.escape(self.name)}$", only_fields=["id", "name", "tags"])
        for queue in found or []:
            if queue.name == self.name:
                return str(queue.id), list(queue.tags or [])
        return None

    def _try_create(self) -> bool:
        from clearml.backend_api.session.client import APIError

        holder = f"holder:{socket.gethostname()}:{os.getpid()}"
        expires = f"expires:{time.time() + self.ttl_s:.3f}"
        try:
            created = self._api().queues.create(name=self.name, tags=[holder, expires, f"key:{self.key[:200]}"])
        except APIError as err:
            log.debug("lock %s is taken (%s)", self.name, err)
            return False
        self.queue_id = str(created.id)
        return True

    def _break_if_stale(self) -> str | None:
        """Delete the current lock queue when its lease has ended; returns its holder otherwise."""
        from clearml.backend_api.session.client import APIError

        current = self._current()
        if current is None:
            return None
        queue_id, tags = current
        expires = _tag(tags, "expires:")
        if expires is not None and float(expires) > time.time():
            return _tag(tags, "holder:") or "unknown"
        log.warning("breaking the abandoned promotion lock %s (%s)", self.name, ", ".join(tags))
        try:
            self._api().queues.delete(queue=queue_id, force=True)
        except APIError as err:  # another waiter broke it first
            log.debug("stale lock %s already gone: %s", queue_id, err)
        return None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``wait_s`` for its holder.

        Raises:
            LockError: Another process held it for longer than ``wait_s``.
        """
        deadline = time.monotonic() + self.wait_s
        holder: str | None = None
        while True:
            if self._try_create():
                log.debug("took lock %s (%s)", self.name, self.key)
                return
            holder = self._break_if_stale()
            if holder is None:
                continue  # gone or broken just now: try to create it at once
            if time.monotonic() > deadline:
                raise LockError(
                    f"another promotion ({holder}) holds the lock for {self.key!r} (queue {self.name});"
                    f" try again, or if no promotion is running, delete that queue or wait {self.ttl_s:.0f} s"
                )
            time.sleep(self.poll_s * random.uniform(0.5, 1.5))

    def check(self) -> None:
        """Raise unless this process still holds the lock (call it right before writing).

        Raises:
            LockError: The lease ran out and another process broke the lock.
        """
        current = self._current()
        if self.queue_id is None or current is None or current[0] != self.queue_id:
            raise LockError(
                f"lost the lock for {self.key!r} (queue {self.name}): the lease of {self.ttl_s:.0f} s ran out"
                " and another process took it; run the command again"
            )

    def release(self) -> None:
        from clearml.backend_api.session.client import APIError

        if self.queue_id is None:
            return
        try:
            self._api().queues.delete(queue=self.queue_id, force=True)
        except APIError as err:  # broken by another process after the lease ran out
            log.warning("lock %s was already gone at release: %s", self.name, err)
        self.queue_id = None

    def __enter__(self) -> ServerLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


__all__ = ["LockError", "ServerLock", "lock_name"]
