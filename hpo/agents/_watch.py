"""Keeping a search's local daemons alive: a daemon that dies is reported and started again.

Without this, a local agent killed during a search (the OOM killer, a stray ``kill``) left the
search running at reduced concurrency without a word. :class:`AgentWatch` checks the daemons
recorded in one ``$HPO_HOME`` every few seconds from a background thread of the process that
started them (the search's controller); each death is a warning on the ``hpo.agents`` logger (the
CLI shows the suite's warnings on the terminal) and a restart counted in the state file, which
``hpo agent status`` and ``hpo status`` show.

Invariants: only one watch per home, and it is stopped before the daemons are (``hpo.agents.stop``
deletes the state file the watch rewrites). A daemon is restarted at most ``max_restarts`` times;
after that it is reported once and left down.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from hpo._processes import pid_alive
from hpo.agents._local import LocalAgent, read_state, restart
from hpo.errors import HPOError

log = logging.getLogger(__name__)

CHECK_S = 2.0
MAX_RESTARTS = 3


class AgentWatch:
    """Restarts the recorded daemons of ``home`` that die, reporting each death (thread-safe to stop).

    Args:
        home: ``$HPO_HOME`` of the daemons (a search's own home).
        env: Environment of restarted daemons (default: ``os.environ`` when one restarts).
        check_s: Seconds between checks.
        max_restarts: Restarts of one worker before it is left down.
    """

    def __init__(
        self,
        home: Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        check_s: float = CHECK_S,
        max_restarts: int = MAX_RESTARTS,
    ) -> None:
        self.home = home
        self._env = env
        self._check_s = check_s
        self._max_restarts = max_restarts
        self._given_up: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AgentWatch:
        """Start checking in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._loop, name="hpo-agent-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop checking; returns once the thread is done (a restart in progress completes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> AgentWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.wait(self._check_s):
            try:
                self.check()
            except HPOError as err:  # the state file unreadable or unwritable: say so, keep watching
                log.warning("cannot check the local agents in %s: %s", self.home, err)

    def check(self) -> list[LocalAgent]:
        """One pass: restart each dead daemon (up to ``max_restarts``); returns the restarted ones."""
        restarted = []
        for agent in read_state(self.home):
            if self._stop.is_set() or pid_alive(agent.pid) or agent.worker_id in self._given_up:
                continue
            if agent.restarts >= self._max_restarts:
                self._given_up.add(agent.worker_id)
                log.warning(
                    "local agent %s died (pid %d) after %d restarts; not restarting it again, the search goes on"
                    " with fewer workers; its log: %s",
                    agent.worker_id,
                    agent.pid,
                    agent.restarts,
                    agent.log_path,
                )
                continue
            new = restart(agent, env=dict(os.environ if self._env is None else self._env), home=self.home)
            log.warning(
                "local agent %s died (pid %d); restarted it (pid %d, restart %d of %d); its log: %s",
                agent.worker_id,
                agent.pid,
                new.pid,
                new.restarts,
                self._max_restarts,
                agent.log_path,
            )
            restarted.append(new)
        return restarted


def watch_notes(home: Path | None = None) -> list[str]:
    """One line for each recorded daemon of ``home`` that died: restarted (how often), or down.

    Args:
        home: ``$HPO_HOME`` of the daemons (a search's own home).
    """
    notes = []
    for agent in read_state(home):
        if not pid_alive(agent.pid):
            notes.append(
                f"local agent {agent.worker_id} is down (pid {agent.pid} died"
                f"{f' after {agent.restarts} restarts' if agent.restarts else ''}); its log: {agent.log_path}"
            )
        elif agent.restarts:
            notes.append(
                f"local agent {agent.worker_id} died and was restarted {agent.restarts}x (pid {agent.pid} now);"
                f" its log: {agent.log_path}"
            )
    return notes


__all__ = ["AgentWatch", "watch_notes"]
