"""A warm interpreter per local worker: it imported ``clearml`` and ``clearml_agent`` once, and forks per program.

A trial on a local agent used to start two fresh interpreters, the agent's ``execute`` child and
the script, each paying its imports (~1.5 s each here). The daemon of a local worker now runs
as ``python -m hpo.agents._zygote SOCKET LAUNCHER -- <clearml-agent args>``: this forks the
zygote, which preloads those modules and listens on the unix socket ``SOCKET``, then runs the
unmodified ``clearml-agent`` in this process with ``sys.executable`` set to ``LAUNCHER`` (a copy
of :mod:`hpo.agents._launcher`). The agent's ``execute`` child and the task's script are both
started through the launcher, which hands argv, environment, working directory and its stdio
descriptors to the zygote.

For each program the zygote forks a *keeper*, which forks the *program*. The keeper forwards the
signals the launcher relays, reports the program's exit status back (the launcher ends the same
way), and kills the program's process tree when the launcher's socket closes (the agent
SIGKILLs the launcher to abort a task). The program gets the launcher's descriptors as 0/1/2, its
working directory, environment, argv, ``sys.path`` (script folder, ``$PYTHONPATH``, then the
interpreter's own) and fresh random seeds; it runs as ``__main__`` and ends as an interpreter
does (uncaught exception printed, non-daemon threads joined, ``atexit`` handlers run).

Invariants: the zygote is single-threaded and in the daemon's process group (``hpo agent stop``
and the watch's restart kill the group); it exits when the daemon is gone. A request it cannot
honour exactly (other ``PYTHON*`` settings than its own, buffered stdio) is declined and the
launcher runs the real interpreter instead, as it does when the zygote is gone. Programs share
the zygote's hash seed (``PYTHONHASHSEED``) and its already imported modules.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import json
import os
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from hpo.agents import _stopguard, _warm

LAUNCHER_NAME = "python"
SOCKET_NAME = "zygote.sock"
PROGRAMS_SUFFIX = ".programs"  # beside the socket: a file per launcher pid holding its program's pid
_SOCKET_MAX = 100  # sun_path holds 104-108 bytes
# Settings read when the interpreter or a preloaded module starts (Python's, matplotlib's): a
# program with other values than the zygote's is declined. PYTHONPATH is applied per program.
_STARTUP_PREFIXES = ("PYTHON", "MPL")
_PER_PROGRAM = {"PYTHONPATH"}
_REQUEST_S = 10.0  # a launcher sends its request at once; the zygote serves one connection at a time


def socket_path(folder: Path) -> Path:
    """Where the zygote of the worker in ``folder`` listens (a short temp path when ``folder``'s is too long)."""
    path = folder / SOCKET_NAME
    if len(str(path)) <= _SOCKET_MAX:
        return path
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hpo-zygote-{digest}.sock"


def programs_dir(sock: Path) -> Path:
    """Where the zygote on ``sock`` records, per launcher pid, the pid of the program it forked for it."""
    return sock.with_name(sock.name + PROGRAMS_SUFFIX)


def programs_of(pid: int, sock: Path, zygote: int) -> list[Any]:
    """``pid``'s process tree and the trees of the programs the zygote forked for launchers in it (psutil).

    A launcher's program is a grandchild of the zygote, not a child of the launcher; this is the
    tree an abort must kill. Records whose program is no longer the zygote's are ignored.
    """
    import psutil

    found: list[Any] = []
    pending = [pid]
    while pending:
        try:
            root = psutil.Process(pending.pop())
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        found.extend(p for p in tree if p not in found)
        for proc in tree:
            try:
                program = psutil.Process(int((programs_dir(sock) / str(proc.pid)).read_text()))
                keeper = program.ppid()
                if keeper and psutil.Process(keeper).ppid() == zygote and program not in found:
                    pending.append(program.pid)
            except (OSError, ValueError, psutil.Error):
                continue
    return found


def write_launcher(folder: Path, python: str = sys.executable) -> Path:
    """Write the worker's launcher (an executable ``python`` that uses the zygote) into ``folder``."""
    source = (Path(__file__).parent / "_launcher.py").read_text()
    text = f"#!{python} -S\n" + source.replace('"@REAL_PYTHON@"', json.dumps(python), 1)
    path = folder / LAUNCHER_NAME
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def serve(path: Path, parent: int) -> NoReturn:
    """Warm up (:func:`hpo.agents._warm.preload`), then serve launchers on ``path`` until ``parent`` is gone."""
    _warm.preload()
    path.unlink(missing_ok=True)
    records = programs_dir(path)
    records.mkdir(exist_ok=True)
    for stale in records.iterdir():  # a previous zygote's
        stale.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o077)  # only this user may hand us programs
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(16)
    listener.settimeout(1.0)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # keepers are reaped by the kernel
    while os.getppid() == parent:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except InterruptedError:
            continue
        received = _receive(conn)
        if received is not None:
            # Parsed here, the files the program's configuration names are cached for it and every
            # later program (the agent dumps the same configuration for each task it runs).
            if not _declines(received[0]):
                _warm.parse_configs(received[0]["env"])
            if os.fork() == 0:
                listener.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _keep(conn, *received, records)
            for fd in received[1]:
                os.close(fd)
        conn.close()
    path.unlink(missing_ok=True)
    os._exit(0)


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("launcher closed the socket mid-request")
        data += chunk
    return bytes(data)


def _declines(request: dict[str, Any]) -> bool:
    """Whether a fresh interpreter would start differently from a fork of this one."""
    env: dict[str, str] = request["env"]
    names = {k for k in [*env, *os.environ] if k.startswith(_STARTUP_PREFIXES)} - _PER_PROGRAM
    unbuffered = bool(request["unbuffered"] or env.get("PYTHONUNBUFFERED"))
    return not unbuffered or any(env.get(k) != os.environ.get(k) for k in names)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """A launcher's request and its stdio descriptors; None (descriptors closed) if it sent none in time."""
    conn.settimeout(_REQUEST_S)
    fds: list[int] = []
    try:
        header, fds, _, _ = socket.recv_fds(conn, 8, 3)
        request = json.loads(_recv_exact(conn, struct.unpack("!Q", header)[0]))
        if not isinstance(request, dict) or not isinstance(request.get("env"), dict):
            raise ValueError("not a launcher's request")
    except (OSError, ValueError, struct.error):
        for fd in fds:
            os.close(fd)
        return None
    conn.settimeout(None)
    return request, fds


def _keep(conn: socket.socket, request: dict[str, Any], fds: list[int], records: Path) -> NoReturn:
    """The keeper: start the program, relay signals to it and its exit status back (never returns)."""
    if _declines(request):
        _send(conn, b"no\n")
        os._exit(0)
    if _gone(conn):  # the agent killed the launcher already (an abort as the task started)
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _program(request, fds)
    for fd in fds:
        os.close(fd)
    record = records / str(int(request.get("launcher") or 0))
    try:
        record.write_text(str(pid))
    except OSError:  # the daemon's kill then reaches the program through _relay only
        pass
    if not _send(conn, f"pid {pid}\n".encode()):  # the launcher died meanwhile: so does its program
        _kill_tree(pid)
    done = threading.Event()
    threading.Thread(target=_relay, args=(conn, pid, done), daemon=True).start()
    _, status = os.waitpid(pid, 0)
    done.set()
    record.unlink(missing_ok=True)
    reply = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.waitstatus_to_exitcode(status)}"
    _send(conn, f"{reply}\n".encode())
    os._exit(0)


def _send(conn: socket.socket, data: bytes) -> bool:
    """Send ``data`` to the launcher; False when it is gone."""
    try:
        conn.sendall(data)
    except OSError:
        return False
    return True


def _gone(conn: socket.socket) -> bool:
    """Whether the launcher closed its end (it sends nothing more after its request but signal lines)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _relay(conn: socket.socket, pid: int, done: threading.Event) -> None:
    """Forward ``sig N`` lines to the program; when the launcher is gone, kill the program's tree."""
    buffer = b""
    while True:
        try:
            chunk = conn.recv(1024)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.startswith(b"sig ") and not done.is_set():
                os.kill(pid, int(line[4:]))
    if not done.is_set():
        _kill_tree(pid)


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        victims = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return
    for proc in victims:
        try:
            proc.kill()
        except psutil.Error:
            continue


def _program(request: dict[str, Any], fds: Sequence[int]) -> NoReturn:
    """Become the requested program: its stdio, cwd, environment, argv and path, then run it."""
    for target, fd in zip(request["fds"], fds, strict=True):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    env: dict[str, str] = request["env"]
    own_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ.clear()
    os.environ.update(env)
    kind, target = request["kind"], request["target"]
    first = {"s": os.path.dirname(os.path.realpath(target)), "m": os.getcwd(), "c": ""}[kind]
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [first, *extra, *[p for p in sys.path[1:] if p not in own_path]]
    sys.argv[:] = [{"s": target, "m": "-m", "c": "-c"}[kind], *request["args"]]
    importlib.invalidate_caches()
    _warm.refresh()
    _stopguard.install(_stopguard.task_of(request["args"], env))  # an abort during its start is kept
    os._exit(_run(kind, target))


def _run(kind: str, target: str) -> int:
    """Run the program as ``__main__`` and shut down as the interpreter would; returns the exit code."""
    import atexit
    import runpy

    code = 0
    interrupted = False
    main = types.ModuleType("__main__")  # `python -m` runs the module in this fresh one's namespace
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    try:
        if kind == "m":
            runpy._run_module_as_main(target)  # type: ignore[attr-defined]  # what `python -m` runs
        elif kind == "c":
            exec(compile(target, "<string>", "exec"), main.__dict__)
        else:
            path = os.path.abspath(target)  # as Python 3.9+ makes a script's __file__ and code filename
            main.__dict__.update(__file__=path, __cached__=None)
            exec(compile(Path(path).read_bytes(), path, "exec"), main.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # what the interpreter prints and exits 1 for
        interrupted = isinstance(exc, KeyboardInterrupt)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)  # the default hook prints exc.__traceback__
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as Py_Finalize does
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    if interrupted:  # the interpreter ends killed by SIGINT after an uncaught KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return code


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _kill_programs_too(sock: Path, zygote: int) -> None:
    """Make the daemon's abort (``kill_all_child_processes(launcher pid)``) kill the forked programs too.

    The daemon kills the process it started and that one's children, at once (SIGKILL). Its
    process is a launcher; the program is the zygote's grandchild, which the launcher's closed
    socket would end only a moment later (:func:`_relay`), after the daemon already marked the
    task stopped. So the programs' trees (:func:`programs_of`) are killed first, as a plain
    agent's would be.
    """
    import psutil
    from clearml_agent.commands import worker

    original = worker.kill_all_child_processes

    def kill_all_child_processes(pid: int | None = None, *args: Any, **kwargs: Any) -> Any:
        if pid:
            for proc in programs_of(pid, sock, zygote)[1:]:  # the daemon's own call kills pid's tree
                try:
                    proc.kill()
                except psutil.Error:
                    continue
        return original(pid, *args, **kwargs)

    worker.kill_all_child_processes = kill_all_child_processes


def run_daemon(argv: Sequence[str]) -> NoReturn:
    """``SOCKET LAUNCHER -- ARGS``: fork the zygote on SOCKET, then run ``clearml_agent ARGS`` here."""
    sock, launcher, sep, *agent_args = argv
    if sep != "--":
        raise SystemExit("usage: python -m hpo.agents._zygote SOCKET LAUNCHER -- CLEARML_AGENT_ARGS")
    parent = os.getpid()
    zygote = os.fork()
    if zygote == 0:
        try:
            serve(Path(sock), parent)
        except BaseException:  # the launcher falls back to the plain interpreter
            os._exit(1)
    import runpy

    _stopguard.install_daemon()
    _kill_programs_too(Path(sock), zygote)
    sys.executable = launcher  # the agent starts its `execute` child with sys.executable
    sys.argv[:] = ["clearml_agent", *agent_args]
    runpy.run_module("clearml_agent", run_name="__main__", alter_sys=True)
    sys.exit(0)


if __name__ == "__main__":
    run_daemon(sys.argv[1:])
