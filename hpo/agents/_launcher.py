"""The ``python`` a local agent runs: hands the command to the worker's warm zygote, else runs Python.

This file is copied (with a ``#!<python> -S`` first line) into each worker's folder and named in
``CLEARML_AGENT_SKIP_PIP_VENV_INSTALL`` and as the daemon's ``sys.executable``; it must import
nothing but the standard library, because it runs without ``site`` to start in milliseconds.

It understands ``[-u] script [args]``, ``[-u] -m module [args]`` and ``[-u] -c code [args]``.
Given one, with ``$HPO_ZYGOTE_SOCKET`` naming a live zygote (:mod:`hpo.agents._zygote`), it sends
argv, environment, working directory and its stdin/stdout/stderr descriptors over that socket,
forwards the signals it gets (TERM, INT, HUP, QUIT, USR1, USR2) and ends as the program ended: the
same exit code, or killed by the same signal. Anything else (``--version``, other options, no
zygote, a zygote that declines) replaces this process with the real interpreter, argv unchanged.
If this process is killed (SIGKILL: the agent aborting a task), the zygote sees its socket close
and kills the program's process tree; the agent's daemon kills that tree at once itself, because
the zygote records which program each launcher pid stands for (:func:`hpo.agents._zygote.programs_of`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from typing import Any, NoReturn

REAL_PYTHON = "@REAL_PYTHON@"  # replaced when the file is written into a worker's folder
FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def _plain() -> NoReturn:
    """Become the real interpreter with the same arguments (never returns)."""
    os.execv(REAL_PYTHON, [REAL_PYTHON, *sys.argv[1:]])


def _parse(args: list[str]) -> dict[str, Any] | None:
    unbuffered = False
    for i, arg in enumerate(args):
        if arg == "-u":
            unbuffered = True
        elif arg in ("-m", "-c") and i + 1 < len(args):
            return {"kind": arg[1], "target": args[i + 1], "args": args[i + 2 :], "unbuffered": unbuffered}
        elif not arg.startswith("-"):
            return {"kind": "s", "target": arg, "args": args[i + 1 :], "unbuffered": unbuffered}
        else:
            return None
    return None


def _connect(path: str, request: dict[str, Any]) -> socket.socket | None:
    fds: list[int] = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            continue
    request["fds"] = fds
    payload = json.dumps(request).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        socket.send_fds(sock, [struct.pack("!Q", len(payload))], fds)
        sock.sendall(payload)
    except OSError:
        sock.close()
        return None
    return sock


def _read_line(sock: socket.socket, buffer: bytearray) -> str | None:
    while b"\n" not in buffer:
        try:
            chunk = sock.recv(4096)
        except InterruptedError:
            continue
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


def main() -> None:
    path = os.environ.get("HPO_ZYGOTE_SOCKET")
    request = _parse(sys.argv[1:])
    if not path or request is None:
        _plain()
    request.update(argv0=sys.argv[0], cwd=os.getcwd(), env=dict(os.environ), launcher=os.getpid())
    sock = _connect(path, request)
    if sock is None:
        _plain()
    buffer = bytearray()
    first = _read_line(sock, buffer)
    if first is None or not first.startswith("pid "):
        sock.close()
        _plain()  # the zygote declined (or died) before the program started: nothing ran yet

    def forward(signum: int, _frame: object) -> None:
        try:
            sock.sendall(f"sig {signum}\n".encode())
        except OSError:
            pass

    for name in FORWARDED:
        signal.signal(getattr(signal, name), forward)
    line = _read_line(sock, buffer)
    kind, _, value = (line or "exit 1").partition(" ")
    if kind == "signal":
        signum = int(value)
        if signum not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught anyway
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        sys.exit(128 + signum)
    sys.exit(int(value))


if __name__ == "__main__":
    main()
