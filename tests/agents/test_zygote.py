"""A program started through a worker's launcher and zygote behaves as under the plain interpreter.

Real processes throughout: a zygote that preloaded clearml and clearml_agent, the launcher file a
worker gets, and the same program run with ``sys.executable`` for comparison.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpo.agents._zygote import socket_path, write_launcher

SCRIPT = """
import atexit, os, sys, threading, time
print("argv", sys.argv, "cwd", os.getcwd(), "env", os.environ.get("ZYGOTE_TEST"), flush=True)
print("path0", sys.path[0], "main", __name__, __file__)
print("to stderr", file=sys.stderr)
atexit.register(lambda: print("atexit ran"))
threading.Thread(target=lambda: (time.sleep(0.3), print("thread joined"))).start()
mode = sys.argv[1]
if mode == "raise":
    raise ValueError("boom " + mode)
if mode == "exit-text":
    sys.exit("a message")
if mode == "interrupt":
    raise KeyboardInterrupt
sys.exit(int(mode))
"""

MODULE = """
import sys
print("module", __name__, sys.argv[1:])
sys.exit(5)
"""


@pytest.fixture
def warm(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """``(launcher, socket)`` with a zygote serving on the socket until the test ends."""
    folder = tmp_path / "worker"
    folder.mkdir()
    launcher, sock = write_launcher(folder), socket_path(folder)
    code = "import os, sys; from pathlib import Path; from hpo.agents._zygote import serve"
    code += "; serve(Path(sys.argv[1]), os.getppid())"
    zygote = subprocess.Popen([sys.executable, "-c", code, str(sock)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not sock.exists():
        assert zygote.poll() is None and time.monotonic() < deadline, "the zygote did not start"
        time.sleep(0.1)
    try:
        yield launcher, sock
    finally:
        zygote.kill()
        zygote.wait()


def _run(python: Path | str, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ZYGOTE_TEST": "seen", "PYTHONUNBUFFERED": "1", **env}
    return subprocess.run([str(python), *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("mode", ["0", "3", "raise", "exit-text", "interrupt"])
def test_zygote_script_same_console_and_exit_as_plain_python(
    warm: tuple[Path, Path], tmp_path: Path, mode: str
) -> None:
    launcher, sock = warm
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    plain = _run(sys.executable, ["-u", script.name, mode], tmp_path)  # relative, as the agent runs it
    forked = _run(launcher, ["-u", script.name, mode], tmp_path, HPO_ZYGOTE_SOCKET=str(sock))
    assert (forked.returncode, forked.stdout, forked.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert "thread joined" in plain.stdout and "atexit ran" in plain.stdout


def test_zygote_module_and_code_same_as_plain_python(warm: tuple[Path, Path], tmp_path: Path) -> None:
    launcher, sock = warm
    (tmp_path / "zygote_probe_mod.py").write_text(MODULE)
    for args in (["-u", "-m", "zygote_probe_mod", "a", "b"], ["-u", "-c", "import sys; print(sys.argv, sys.path[0])"]):
        plain = _run(sys.executable, args, tmp_path)
        forked = _run(launcher, args, tmp_path, HPO_ZYGOTE_SOCKET=str(sock))
        assert (forked.returncode, forked.stdout, forked.stderr) == (plain.returncode, plain.stdout, plain.stderr)


def _pid_of(launcher: Path, sock: Path | None, tmp_path: Path, **env: str) -> tuple[int, int]:
    """``(launcher pid, program pid)`` of a program that prints its pid."""
    full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    if sock is not None:
        full["HPO_ZYGOTE_SOCKET"] = str(sock)
    proc = subprocess.Popen(
        [str(launcher), "-u", "-c", "import os; print(os.getpid())"], cwd=tmp_path, env=full, stdout=subprocess.PIPE
    )
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    return proc.pid, int(out)


def test_zygote_forks_the_program_and_falls_back_when_gone_or_declined(warm: tuple[Path, Path], tmp_path: Path) -> None:
    launcher, sock = warm
    outer, inner = _pid_of(launcher, sock, tmp_path)
    assert outer != inner  # a fork of the zygote
    outer, inner = _pid_of(launcher, tmp_path / "no.sock", tmp_path)
    assert outer == inner  # no zygote: the launcher became the real interpreter
    outer, inner = _pid_of(launcher, sock, tmp_path, PYTHONHASHSEED="123")
    assert outer == inner  # a setting a fork cannot honour: declined, plain interpreter
    version = subprocess.run([str(launcher), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("Python 3.")


def _started(launcher: Path, sock: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    pid_file = tmp_path / "prog.pid"
    pid_file.unlink(missing_ok=True)
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HPO_ZYGOTE_SOCKET": str(sock)}
    proc = subprocess.Popen([str(launcher), "-u", "-c", code], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the program did not start"
        time.sleep(0.05)
    return proc, int(pid_file.read_text())


def _gone(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_zygote_relays_sigterm_and_kills_program_when_launcher_is_killed(
    warm: tuple[Path, Path], tmp_path: Path
) -> None:
    launcher, sock = warm
    proc, program = _started(launcher, sock, tmp_path)
    assert program != proc.pid
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM  # the program died of SIGTERM, and so did the launcher
    assert _gone(program)
    proc, program = _started(launcher, sock, tmp_path)
    proc.kill()  # what clearml-agent does to abort a task
    proc.wait(timeout=60)
    assert _gone(program)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's vendored pyhocon calls pyparsing's old names
def test_warm_parse_cache_copies_pure_texts_and_leaves_the_rest(tmp_path: Path) -> None:
    from clearml.utilities.pyhocon import ConfigFactory

    from hpo.agents import _warm

    class Factory(ConfigFactory):  # type: ignore[misc]  # a subclass: the SDK's own parser stays as it is
        pass

    calls: list[str] = []
    original = Factory.parse_string

    def counting(content: str, *args: object, **kwargs: object) -> object:
        calls.append(content)
        return original(content, *args, **kwargs)

    Factory.parse_string = counting  # type: ignore[method-assign]
    _warm._cache_parses(Factory)
    pure = 'a { b: 1 }\n  # ${NOT_A_SUBSTITUTION} in a comment line\n// include file("x")\n'
    first = Factory.parse_string(pure)
    first.put("a.b", 2)  # the SDK merges trees in place: a later program must not see it
    second = Factory.parse_string(pure)
    assert second.get("a.b") == 1 and calls.count(pure) == 1
    included = tmp_path / "inc.conf"
    included.write_text("c: 3\n")
    local = f'include file("{included}")\ne: 4\n'  # what a local worker's clearml.conf looks like
    assert Factory.parse_string(local).get("c") == 3 and Factory.parse_string(local).get("c") == 3
    assert calls.count(local) == 1  # cached: keyed by its own text and the included file's
    included.write_text("c: 5\n")
    assert Factory.parse_string(local).get("c") == 5 and calls.count(local) == 2  # the file changed
    (tmp_path / "env.conf").write_text("f: ${?HOME}\n")
    impure = [
        f'include file("{tmp_path / "env.conf"}")\n',  # includes a text that reads the environment
        'include file("relative.conf")\n',
        f'include "{included}"\n',  # another include form
        "d: ${?HOME}\n",
    ]
    for text in impure:
        Factory.parse_string(text)
        Factory.parse_string(text)
        assert calls.count(text) == 2  # parsed every time: it depends on other files or the environment


def test_warm_starts_by_default_on_linux_else_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo.agents._local import zygote_default

    monkeypatch.setattr(sys, "platform", "linux")
    assert zygote_default({}) and zygote_default({"HPO_AGENT_ZYGOTE": "1"})
    assert not zygote_default({"HPO_AGENT_ZYGOTE": "0"})
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not zygote_default({}) and zygote_default({"HPO_AGENT_ZYGOTE": "1"})
    monkeypatch.delattr(os, "fork")  # Windows
    assert not zygote_default({"HPO_AGENT_ZYGOTE": "1"})
