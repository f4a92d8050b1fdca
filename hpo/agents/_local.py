"""Local ``clearml-agent daemon`` processes: start, stop and report on them.

Each worker is an unmodified ``clearml-agent daemon`` in its own session (process group), with its
configuration and log under ``$HPO_HOME/agents/<worker>/``. ``$HPO_HOME/agents/agents.json``
records what was started so ``stop`` and ``status`` find them from another process; a daemon
that died is started again by :func:`restart` (``hpo.agents.AgentWatch`` does it during a search),
and the record counts its restarts. The server
is whatever the ``CLEARML_*`` environment names when :func:`start` runs (``hpo.connection``
exports it, starting the embedded server if nothing else is configured).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from hpo._processes import pid_alive, write_atomic
from hpo.agents import _api
from hpo.agents._config import agent_env, write_agent_config
from hpo.agents._zygote import socket_path, write_launcher
from hpo.connection import config_files
from hpo.errors import ConfigError, ServerError
from hpo.paths import hpo_home, searches_dir

log = logging.getLogger(__name__)

STATE_FILE = "agents.json"
READY_TIMEOUT_S = 60.0
ZYGOTE_READY_S = 30.0

# Daemons this process started, kept so that stop() can reap them (no zombies, no ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class LocalAgent:
    """One daemon process as recorded in the state file."""

    worker_id: str
    pid: int
    queues: list[str]
    log_path: str
    api_host: str
    started: float = field(default_factory=time.time)
    poll_s: float = 0.5
    report_s: float = 2.0
    restarts: int = 0  # how often it died and was started again (hpo.agents.AgentWatch)
    zygote: bool = True  # programs start as forks of a warm interpreter (hpo.agents._zygote)


@dataclass(frozen=True)
class AgentStatus:
    """What :func:`status` reports for one recorded daemon; ``study``: the search that started it, if any."""

    worker_id: str
    pid: int
    alive: bool
    registered: bool
    queues: list[str]
    task_id: str | None
    task_name: str | None
    log_path: str
    study: str | None = None
    restarts: int = 0


def agents_dir(home: Path | None = None) -> Path:
    return (home or hpo_home()) / "agents"


def _state_path(home: Path | None) -> Path:
    return agents_dir(home) / STATE_FILE


def read_state(home: Path | None = None) -> list[LocalAgent]:
    """The daemons recorded by :func:`start` (alive or not)."""
    try:
        raw = json.loads(_state_path(home).read_text())
    except FileNotFoundError:
        return []
    except ValueError as err:
        raise ConfigError(f"{_state_path(home)} is not valid JSON ({err}); delete it after stopping agents") from err
    return [LocalAgent(**item) for item in raw]


def _write_state(agents: Sequence[LocalAgent], home: Path | None) -> None:
    write_atomic(_state_path(home), json.dumps([asdict(a) for a in agents], indent=2))


def start(
    queues: Sequence[str],
    workers: int = 1,
    *,
    env: Mapping[str, str] | None = None,
    poll_s: float = 0.25,
    report_s: float = 2.0,
    home: Path | None = None,
    wait: bool = True,
    prefix: str = "hpo",
    zygote: bool | None = None,
) -> list[LocalAgent]:
    """Start ``workers`` more daemons pulling from ``queues`` (created when missing).

    Agents started earlier keep running: starting again with other queues adds workers for them.

    Args:
        queues: Queue names, highest priority first.
        workers: How many daemons; each runs one task at a time.
        env: Environment of the daemons (default ``os.environ``); its ``CLEARML_*`` name the server.
        poll_s: Queue poll interval, also how fast an abort or a finished task is noticed.
        report_s: Worker status report interval (the server's task timeout must exceed it).
        home: ``$HPO_HOME`` override.
        wait: Return only once every daemon has registered with the server.
        prefix: Worker ids are ``<hostname>:<prefix>-N`` (another prefix keeps another home's workers apart).
        zygote: Start tasks as forks of a warm interpreter (:mod:`hpo.agents._zygote`); default
            (:func:`zygote_default`): on Linux unless ``HPO_AGENT_ZYGOTE=0`` is in ``env``,
            elsewhere only with ``HPO_AGENT_ZYGOTE=1`` and an OS that can fork.

    Raises:
        ConfigError: Bad arguments, or agents recorded in ``home`` serve another server.
        ServerError: A daemon exited or did not register in time (its log is named).
    """
    if not queues or any(not q.strip() for q in queues):
        raise ConfigError(f"name at least one non-empty queue (--queue NAME), got {list(queues)!r}")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    running = [a for a in read_state(home) if pid_alive(a.pid)]
    base_env = dict(os.environ if env is None else env)
    if zygote is None:
        zygote = zygote_default(base_env)
    with _api.Client(base_env) as client:
        if any(a.api_host != client.api_host for a in running):
            raise ConfigError(
                f"agents in {agents_dir(home)} serve another server ({running[0].api_host});"
                " `hpo agent stop` them first"
            )
        for name in queues:
            client.ensure_queue(name)
        used = {a.worker_id.rsplit("-", 1)[-1] for a in running}
        indices = [i for i in range(len(running) + workers) if str(i) not in used][:workers]
        agents = [
            _spawn(queues, f"{prefix}-{i}", base_env, client.api_host, poll_s, report_s, home, zygote) for i in indices
        ]
        _write_state([*running, *agents], home)
        if wait:
            _wait_registered(client, agents)
            _wait_zygotes([socket_path(agents_dir(home) / a.worker_id.rsplit(":", 1)[-1]) for a in agents if a.zygote])
    return agents


def zygote_default(env: Mapping[str, str]) -> bool:
    """Whether local workers started with ``env`` run their tasks as forks of a warm interpreter."""
    setting = env.get("HPO_AGENT_ZYGOTE", "1" if sys.platform.startswith("linux") else "0")  # tested on Linux
    return setting != "0" and hasattr(os, "fork")


def _wait_zygotes(sockets: Sequence[Path], timeout: float = ZYGOTE_READY_S) -> None:
    """Wait (bounded) until the workers' zygotes listen, so the first tasks start warm too.

    A zygote that is late or failed is no error: its worker runs tasks in fresh interpreters.
    """
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in sockets):
        if time.monotonic() > deadline:
            log.warning("some agents' warm interpreters are not ready; their tasks start in fresh ones")
            return
        time.sleep(0.1)


def _spawn(
    queues: Sequence[str],
    name: str,
    base_env: Mapping[str, str],
    api_host: str,
    poll_s: float,
    report_s: float,
    home: Path | None,
    zygote: bool = True,
) -> LocalAgent:
    worker_id = f"{socket.gethostname()}:{name}"
    folder = agents_dir(home) / name
    (agents_dir(home) / "tmp").mkdir(parents=True, exist_ok=True)
    files_host = base_env.get("CLEARML_FILES_HOST")  # models go there, not to the agent's code folder
    config = write_agent_config(folder, worker_id, config_files(base_env), max(report_s * 2, 1.0), files_host)
    log_path = folder / "agent.log"
    agent_args = ["--config-file", str(config), "daemon", "--foreground", "--queue", *queues]
    warm = (write_launcher(folder), socket_path(folder)) if zygote else None
    if warm is not None:
        warm[1].unlink(missing_ok=True)  # a dead zygote's socket: not ready until the new one listens
    if warm is None:
        cmd = [sys.executable, "-m", "clearml_agent", *agent_args]
    else:
        cmd = [sys.executable, "-m", "hpo.agents._zygote", str(warm[1]), str(warm[0]), "--", *agent_args]
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=folder,
            env=agent_env(base_env, config, worker_id, poll_s, report_s, warm),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() reaches the tasks it runs too
        )
    _children[proc.pid] = proc
    log.info("started agent %s (pid %d), log %s", worker_id, proc.pid, log_path)
    return LocalAgent(
        worker_id, proc.pid, list(queues), str(log_path), api_host, poll_s=poll_s, report_s=report_s, zygote=zygote
    )


def restart(dead: LocalAgent, *, env: Mapping[str, str] | None = None, home: Path | None = None) -> LocalAgent:
    """Start ``dead`` again, as the same worker on the same queues, and record it in its place.

    What is left of its process group (the orphaned trial) is killed first; the server fails that
    trial after its task timeout, as for any lost worker.

    Args:
        dead: A recorded daemon that no longer runs.
        env: Environment of the new daemon (default ``os.environ``), naming the same server.
        home: ``$HPO_HOME`` override.
    """
    for pid in _group_members(dead.pid, str(agents_dir(home) / "tmp")):
        _signal(pid, signal.SIGKILL)
    child = _children.pop(dead.pid, None)
    if child is not None:
        child.poll()  # reaps it, if pid_alive has not
    name = dead.worker_id.split(":", 1)[-1]
    base_env = dict(os.environ if env is None else env)
    new = _spawn(dead.queues, name, base_env, dead.api_host, dead.poll_s, dead.report_s, home, dead.zygote)
    new = dataclasses.replace(new, restarts=dead.restarts + 1)
    _write_state([new if a.worker_id == dead.worker_id else a for a in read_state(home)], home)
    return new


def _tail(path: str, chars: int = 2000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _wait_registered(client: _api.Client, agents: Sequence[LocalAgent]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = {a.worker_id: a for a in agents}
    while pending:
        for agent in list(pending.values()):
            if not pid_alive(agent.pid):
                raise ServerError(
                    f"clearml-agent {agent.worker_id} exited while starting; its log ({agent.log_path}) ends with:\n"
                    f"{_tail(agent.log_path)}"
                )
        registered = {w["id"] for w in client.workers()}
        for worker_id in registered & set(pending):
            del pending[worker_id]
        if not pending:
            return
        if time.monotonic() > deadline:
            names = ", ".join(pending)
            raise ServerError(f"agents {names} did not register within {READY_TIMEOUT_S:.0f} s; see their logs")
        time.sleep(0.2)


def stop(home: Path | None = None, timeout: float = 15.0) -> list[LocalAgent]:
    """Stop every recorded daemon; returns those that were running.

    SIGTERM first: the agent then aborts its task (``stopped``) and unregisters. Whatever is left
    of a daemon's process group after ``timeout`` is killed.
    """
    agents = read_state(home)
    running = [a for a in agents if pid_alive(a.pid)]
    for agent in running:
        _signal(agent.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(a.pid) for a in running):
        time.sleep(0.1)
    marker = str(agents_dir(home) / "tmp")
    for agent in agents:
        # Leftovers: a daemon that ignored SIGTERM, or the orphaned trial of a killed daemon.
        for pid in _group_members(agent.pid, marker):
            _signal(pid, signal.SIGKILL)
    for agent in agents:
        child = _children.pop(agent.pid, None)
        if child is not None:
            child.wait(timeout=timeout)
    _state_path(home).unlink(missing_ok=True)
    return running


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_members(pgid: int, marker: str) -> list[int]:
    """Processes of group ``pgid`` (a daemon leads its own) whose environment shows they are ours.

    The environment check (our agents' ``TMPDIR``, ``marker``) guards against a recycled pid.
    Through psutil, so it works where there is no ``/proc`` (macOS) too.
    """
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and any(marker in value for value in proc.environ().values()):
                members.append(proc.pid)
        except (psutil.Error, OSError):  # gone, a zombie, or another user's
            continue
    return members


def _recorded(home: Path | None, searches: bool) -> list[tuple[str | None, LocalAgent]]:
    """``(study, agent)`` for the daemons of ``home`` and, with ``searches``, of each search's own home.

    A search's agents live in ``searches_dir(home)/<study>/agents`` (``hpo.search`` starts them
    there); the folder's name is the study's (made file-safe).
    """
    found: list[tuple[str | None, LocalAgent]] = [(None, agent) for agent in read_state(home)]
    if searches:
        for folder in sorted(searches_dir(home).glob(f"*/agents/{STATE_FILE}")):
            search_home = folder.parent.parent
            found += [(search_home.name, agent) for agent in read_state(search_home)]
    return found


def status(
    home: Path | None = None, env: Mapping[str, str] | None = None, *, searches: bool = False
) -> list[AgentStatus]:
    """The recorded daemons, whether they live, and what the server says each one runs.

    Args:
        home: ``$HPO_HOME`` override.
        env: Environment naming the server (default ``os.environ``).
        searches: Also the agents that running searches started for themselves, marked with their study.
    """
    recorded = _recorded(home, searches)
    if not recorded:
        return []
    workers: dict[str, dict[str, object]] = {}
    try:
        with _api.Client(dict(os.environ if env is None else env)) as client:
            workers = {str(w["id"]): w for w in client.workers()}
    except ServerError as err:
        log.warning("cannot ask the server about workers: %s", err)
    out = []
    for study, agent in recorded:
        worker = workers.get(agent.worker_id)
        task = worker.get("task") if worker else None
        out.append(
            AgentStatus(
                worker_id=agent.worker_id,
                pid=agent.pid,
                alive=pid_alive(agent.pid),
                registered=worker is not None,
                queues=agent.queues,
                task_id=str(task["id"]) if isinstance(task, dict) else None,
                task_name=str(task.get("name")) if isinstance(task, dict) else None,
                log_path=agent.log_path,
                study=study,
                restarts=agent.restarts,
            )
        )
    return out


def recorded(home: Path | None = None, *, searches: bool = False) -> bool:
    """Whether any daemon is recorded (alive or not), as :func:`status` would list it."""
    return bool(_recorded(home, searches))
