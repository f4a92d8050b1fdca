"""Two machines: the server in one network namespace; the SDK, an agent and a search in another.

The namespaces, the veth pair joining them and their addresses (``10.231.N.1`` and ``.2``, a /30)
are made by the test and removed at its end, also when it fails. Every process that talks to those
addresses runs inside a namespace (``ip netns exec``): the test itself never contacts them, so no
packet leaves by the root namespace's default route. Skipped where namespaces cannot be made.

The unit tests at the top check the address rules without any network.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hpo import local_server
from hpo.clearml_conf import SDK_OVERRIDES
from hpo.errors import ConfigError, ServerError
from hpo.server import ServerConfig, runtime_config
from hpo.server._config import primary_address
from tests.support.search import CURVE, REGISTER
from tests.support.server import Env, free_port, sdk_env

PYTHON = sys.executable


# --- address rules, no network ---------------------------------------------------------------


def test_advertised_url_is_the_public_url_else_the_bound_address_else_the_primary_one(tmp_path: Path) -> None:
    public = ServerConfig(tmp_path, host="0.0.0.0", port=8008, public_url="https://hpo.example.com")
    assert public.advertised_url() == "https://hpo.example.com"
    assert ServerConfig(tmp_path, host="10.1.2.3", port=8010).advertised_url() == "http://10.1.2.3:8010"
    any_address = ServerConfig(tmp_path, host="0.0.0.0", port=8011)
    assert any_address.advertised_url() == f"http://{primary_address()}:8011"
    state = any_address.state(pid=42, port=8011)
    assert state["local_url"] == "http://127.0.0.1:8011" and state["url"] == any_address.advertised_url()
    tls = ServerConfig(tmp_path, host="127.0.0.1", port=8012, tls_cert=tmp_path / "c", tls_key=tmp_path / "k")
    assert tls.advertised_url() == tls.base_url() == "https://127.0.0.1:8012"


@pytest.mark.parametrize(
    ("host", "uri", "path"),
    [
        ("127.0.0.1", "/files/p/t/a.bin", "p/t/a.bin"),
        ("127.0.0.1", "http://127.0.0.1:8008/files/p/a.bin", "p/a.bin"),
        ("127.0.0.1", "http://localhost:9999/files/p/a.bin", "p/a.bin"),  # loopback: this machine, any port
        ("0.0.0.0", "http://10.231.7.1:8008/files/p/T%20x/a.bin", "p/T%20x/a.bin"),  # uploaded from elsewhere
        ("0.0.0.0", "https://10.231.7.1:8008/files/p/a.bin", "p/a.bin"),
        ("10.231.7.1", "http://10.231.7.1:8008/files/p/a.bin", "p/a.bin"),
        ("0.0.0.0", "http://hpo.example.com/files/p/a.bin", "p/a.bin"),  # the public URL
        ("10.231.7.1", "http://10.9.9.9:8008/files/p/a.bin", None),  # another machine's file server
        ("0.0.0.0", "http://10.231.7.1:8081/files/p/a.bin", None),  # another port there
        ("0.0.0.0", "http://other.example.com/files/p/a.bin", None),
        ("0.0.0.0", "s3://bucket/files/p/a.bin", None),
        ("127.0.0.1", "http://127.0.0.1:8008/other/p/a.bin", None),
    ],
)
def test_files_path_recognises_the_file_server_under_any_of_its_addresses(
    tmp_path: Path, host: str, uri: str, path: str | None
) -> None:
    config = ServerConfig(tmp_path, host=host, port=8008, public_url="http://hpo.example.com")
    assert config.files_path(uri) == path


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"public_url": "ftp://hpo.example.com"}, "not an http(s)://host[:port] URL"),
        ({"public_url": "http://hpo.example.com/api"}, "not an http(s)://host[:port] URL"),
        ({"public_url": "http://user:pw@hpo.example.com"}, "holds credentials"),
        ({"tls_cert": Path("/nonexistent.pem")}, "--tls-cert and --tls-key go together"),
        ({"tls_cert": Path("/nonexistent.pem"), "tls_key": Path("/nonexistent.key")}, "cannot load them"),
    ],
)
def test_runtime_config_names_the_bad_address_or_tls_file(
    tmp_path: Path, kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match="--") as info:
        runtime_config(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_runtime_config_refuses_an_http_public_url_for_a_tls_server(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "127.0.0.1")
    with pytest.raises(ConfigError, match="serves TLS; use https://"):
        runtime_config(tmp_path, public_url="http://hpo.example.com", tls_cert=cert, tls_key=key)
    assert runtime_config(tmp_path, tls_cert=cert, tls_key=key).scheme == "https"


def _self_signed(folder: Path, ip: str) -> tuple[Path, Path]:
    cert, key = folder / "self.pem", folder / "self.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hpo-test",
         "-addext", f"subjectAltName=IP:{ip}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


# --- one machine: what other machines are told, and TLS, on loopback -------------------------


def test_public_url_is_what_env_and_ui_hand_out(tmp_path: Path) -> None:
    port = free_port()
    public = f"http://localhost:{port}"  # a name the server is reached by: here, on loopback
    data_dir = tmp_path / "data"
    server, _ = local_server.start(data_dir, port=port, public_url=public)
    try:
        assert server.url == public and server.local_url == f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
        cli = [PYTHON, "-m", "hpo.cli", "server"]
        out = subprocess.run([*cli, "env", "--portable", "--data-dir", str(data_dir)], env=env, **_TEXT).stdout
        assert _exports(out) == server.portable_env() and _exports(out)["CLEARML_FILES_HOST"] == f"{public}/files"
        assert str(data_dir) not in out and "CLEARML_CONFIG_FILE" not in out
        link = subprocess.run([*cli, "ui", "--data-dir", str(data_dir)], env=env, **_TEXT).stdout.strip()
        assert link.startswith(f"{public}/login?token=")
        with pytest.raises(ServerError, match="not at http://elsewhere"):
            local_server.start(data_dir, public_url="http://elsewhere:1")
    finally:
        local_server.stop(data_dir)


def test_tls_server_serves_the_sdk_that_trusts_its_ca(tmp_path: Path) -> None:
    ca, cert, key = _make_ca_and_cert(tmp_path / "tls", "127.0.0.1")
    server, _ = local_server.start(tmp_path / "data", port=free_port(), tls_cert=cert, tls_key=key)
    try:
        assert server.tls and server.url.startswith("https://127.0.0.1:")
        env = Env(server, tmp_path, sdk_env(server, tmp_path))
        env.vars.update(REQUESTS_CA_BUNDLE=str(ca), SSL_CERT_FILE=str(ca))
        done = env.run(TLS_CLIENT).result
        assert done["uri"].startswith(f"{server.url}/files/") and done["back"] == {"x": 1}
        assert done["page"].startswith(f"{server.url}/projects/")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.post(f"{server.url}/debug.ping", json={}, verify=True, trust_env=False)
    finally:
        local_server.stop(tmp_path / "data")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--public-url", "ftp://hpo.example.com"], "--public-url 'ftp://hpo.example.com': not an http(s)://host"),
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "cert.pem", "--tls-key", "key.pem"], "cannot load them"),
    ],
)
def test_server_start_names_the_bad_flag(tmp_path: Path, flags: list[str], needle: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    argv = [PYTHON, "-m", "hpo.cli", "server", "start", "--data-dir", str(tmp_path / "d"), "--port", str(free_port())]
    failed = subprocess.run([*argv, *flags], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1 and needle in " ".join(failed.stderr.split()), failed.stderr
    assert local_server.find(tmp_path / "d") is None


_TEXT: dict[str, Any] = {"capture_output": True, "text": True, "check": True, "timeout": 120}

TLS_CLIENT = """
import json
from clearml import Task

task = Task.init(project_name="tls", task_name="upload", reuse_last_task_id=False)
task.upload_artifact("blob", artifact_object={"x": 1}, wait_on_upload=True)
back = Task.get_task(task_id=task.id).artifacts["blob"].get()
result = {"uri": task.artifacts["blob"].url, "back": back, "page": task.get_output_log_web_page()}
print("RESULT " + json.dumps(result))
task.close()
"""


# --- two namespaces --------------------------------------------------------------------------


@dataclass
class Machines:
    """Two network namespaces joined by a veth pair; commands run inside with ``ip netns exec``."""

    root: Path
    server_ns: str
    client_ns: str
    server_ip: str
    client_ip: str
    made: list[str] = field(default_factory=list)

    def env(self, machine: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean environment for ``machine`` (its own HOME and HPO_HOME; no ClearML settings, no proxy)."""
        home = self.root / machine
        (home / "home").mkdir(parents=True, exist_ok=True)
        dropped = ("CLEARML_", "TRAINS_", "REQUESTS_CA_BUNDLE", "SSL_CERT_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(dropped)}
        env.update(HOME=str(home / "home"), HPO_HOME=str(home / "hpo"), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
        return {**env, **(extra or {})}

    def run(
        self, ns: str, argv: list[str], env: dict[str, str], timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            env=env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert proc.returncode == 0, (
                f"{shlex.join(argv)} in {ns} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def hpo(self, ns: str, env: dict[str, str], *args: str, timeout: float = 300) -> str:
        return self.run(ns, [PYTHON, "-m", "hpo.cli", *args], env, timeout).stdout


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


def _kill_namespace_processes(ns: str) -> None:
    """End what the test started in ``ns`` (servers, agents, scripts), by pid: TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p in _ip("netns", "pids", ns).stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline and _ip("netns", "pids", ns).stdout.split():
            time.sleep(0.2)


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[Machines]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns add); run as root to test two machines")
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2): cannot make network namespaces")
    n = os.getpid() % 200 + 20
    tag = f"{os.getpid()}"
    m = Machines(tmp_path, f"hpo-srv-{tag}", f"hpo-cli-{tag}", f"10.231.{n}.1", f"10.231.{n}.2")
    veth_s, veth_c = f"hv{tag[-6:]}s", f"hv{tag[-6:]}c"
    steps = [
        ["netns", "add", m.server_ns],
        ["netns", "add", m.client_ns],
        ["link", "add", veth_s, "type", "veth", "peer", "name", veth_c],
        ["link", "set", veth_s, "netns", m.server_ns],
        ["link", "set", veth_c, "netns", m.client_ns],
        ["-n", m.server_ns, "addr", "add", f"{m.server_ip}/30", "dev", veth_s],
        ["-n", m.client_ns, "addr", "add", f"{m.client_ip}/30", "dev", veth_c],
        ["-n", m.server_ns, "link", "set", veth_s, "up"],
        ["-n", m.client_ns, "link", "set", veth_c, "up"],
        ["-n", m.server_ns, "link", "set", "lo", "up"],
        ["-n", m.client_ns, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"cannot make network namespaces here: `ip {shlex.join(step)}`: {done.stderr.strip()}")
        yield m
    finally:
        for ns in (m.client_ns, m.server_ns):
            _kill_namespace_processes(ns)
            _ip("netns", "del", ns)  # takes the veth end inside with it
        _ip("link", "del", veth_s)  # still in the root namespace only if moving it failed
        leftovers = [ns for ns in (m.server_ns, m.client_ns) if ns in _ip("netns", "list").stdout]
        assert not leftovers, f"network namespaces left behind: {leftovers}"


CLIENT = """
import json, sys
from clearml import Task

task = Task.init(project_name="two machines", task_name="remote upload", reuse_last_task_id=False)
params = task.connect({"x": 1.0})
task.get_logger().report_scalar("loss", "train", value=float(params["x"]), iteration=0)
task.upload_artifact("blob", artifact_object={"x": params["x"]}, wait_on_upload=True)
result = {"id": task.id, "uri": task.artifacts["blob"].url, "page": task.get_output_log_web_page()}
print("RESULT " + json.dumps(result))
task.close()
"""

ENQUEUE = """
import json, sys, time
from clearml import Task

clone = Task.clone(source_task=sys.argv[1], name="remote clone")
clone.set_parameter("General/x", 2.0)
Task.enqueue(clone, queue_name="remote")
deadline = time.monotonic() + 240
while clone.get_status() not in ("completed", "failed", "stopped") and time.monotonic() < deadline:
    time.sleep(1)
clone.reload()
blob = clone.artifacts.get("blob")
print("RESULT " + json.dumps({"status": clone.get_status(), "uri": blob.url if blob else None,
                              "x": blob.get() if blob else None}))
"""

UI = """
import json, re, sys
import httpx

link, base, task_id = sys.argv[1:4]
with httpx.Client(follow_redirects=True, timeout=30) as client:
    signed_in = client.get(link)
    page = client.get(f"{base}/projects/*/experiments/{task_id}/artifacts").text
    hrefs = re.findall(r'href="(/ui/files/[^"]+)"', page)
    body = client.get(base + hrefs[0]).text if hrefs else None
print("RESULT " + json.dumps({"signed_in": signed_in.status_code, "hrefs": hrefs, "body": body}))
"""

PING = """
import sys
import httpx
try:
    print("RESULT", httpx.post(sys.argv[1] + "/debug.ping", json={}, timeout=10).status_code)
except httpx.ConnectError as err:
    print("RESULT", "refused:", err)
"""


def _result(output: str) -> object:
    lines = [line[7:] for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no RESULT line in:\n{output}"
    return json.loads(lines[-1]) if lines[-1][:1] in "{[" else lines[-1]


def _exports(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            found[key] = shlex.split(value)[0]
    return found


def _search(m: Machines, env: dict[str, str]) -> dict[str, Any]:
    """Register the curve template and search it (2 trials) on the queue the client's agent serves."""
    (m.root / "curve.py").write_text(textwrap.dedent(CURVE))
    (m.root / "register.py").write_text(textwrap.dedent(REGISTER))
    m.run(m.client_ns, [PYTHON, "register.py", str(m.root / "curve.py")], env)
    space = {
        "template": "curve",
        "objective": {"title": "validation", "series": "score", "direction": "max"},
        "trials": 2,
        "concurrency": 1,
        "sampler": {"name": "random", "seed": 1},
        "parameters": {"General/x": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    (m.root / "space.yaml").write_text(yaml.safe_dump(space))
    argv = ["search", "space.yaml", "--json", "--queue", "remote", "--local-workers", "0"]
    return dict(json.loads(m.hpo(m.client_ns, env, *argv, timeout=400)))


def _make_ca_and_cert(folder: Path, ip: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signs for ``ip`` (openssl, no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key, cert, key, csr = (folder / n for n in ("ca.pem", "ca.key", "server.pem", "server.key", "server.csr"))
    ext = folder / "ext.cnf"
    ext.write_text(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hpo test CA",
         "-keyout", str(ca_key), "-out", str(ca)],
        ["req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}", "-keyout", str(key), "-out", str(csr)],
        ["x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "1",
         "-extfile", str(ext), "-out", str(cert)],
    ):  # fmt: skip
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    return ca, cert, key


@pytest.mark.slow
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_server_on_one_machine_sdk_and_agent_on_another(machines: Machines, tls: bool) -> None:
    m = machines
    data_dir = m.root / "server" / "data"
    server_env = m.env("server")
    start = ["server", "start", "--data-dir", str(data_dir), "--host", "0.0.0.0", "--port", "8008"]
    client_extra: dict[str, str] = {}
    if tls:
        ca, cert, key = _make_ca_and_cert(m.root / "tls", m.server_ip)
        start += ["--tls-cert", str(cert), "--tls-key", str(key)]
        client_extra = {"REQUESTS_CA_BUNDLE": str(ca), "SSL_CERT_FILE": str(ca)}  # the SDK and agent; httpx
    m.hpo(m.server_ns, server_env, *start)
    scheme = "https" if tls else "http"
    url = f"{scheme}://{m.server_ip}:8008"  # bound to 0.0.0.0: the only non-loopback address is advertised

    portable = m.hpo(m.server_ns, server_env, "server", "env", "--portable", "--data-dir", str(data_dir))
    exports = _exports(portable)
    assert exports["CLEARML_API_HOST"] == exports["CLEARML_WEB_HOST"] == url
    assert exports["CLEARML_FILES_HOST"] == f"{url}/files"
    assert exports["CLEARML_API_ACCESS_KEY"] and exports["CLEARML_API_SECRET_KEY"]
    assert "CLEARML_CONFIG_FILE" not in portable and str(m.root / "server") not in portable  # nothing of its disk
    local = _exports(m.hpo(m.server_ns, server_env, "server", "env", "--data-dir", str(data_dir)))
    assert local["CLEARML_API_HOST"] == url and local["CLEARML_CONFIG_FILE"].startswith(str(data_dir))

    client_env = m.env("client", {**exports, **client_extra})
    # What the README tells a user to set on another machine (no variable can): without it the SDK
    # forks its reporter, whose close hung this test for 300 s once on a loaded CI machine.
    (Path(client_env["HOME"]) / "clearml.conf").write_text(SDK_OVERRIDES)
    (m.root / "client.py").write_text(textwrap.dedent(CLIENT))
    first = _result(m.run(m.client_ns, [PYTHON, "client.py"], client_env).stdout)
    assert isinstance(first, dict)
    assert first["uri"].startswith(f"{url}/files/two machines/") or first["uri"].startswith(f"{url}/files/two%20")
    assert first["page"].startswith(f"{url}/projects/")  # the SDK's printed link: the advertised web host

    m.hpo(m.client_ns, client_env, "agent", "start", "--queue", "remote", "--poll-interval", "0.5")
    try:
        (m.root / "enqueue.py").write_text(textwrap.dedent(ENQUEUE))
        clone = _result(m.run(m.client_ns, [PYTHON, "enqueue.py", first["id"]], client_env).stdout)
        summary = None if tls else _search(m, client_env)
    finally:
        m.hpo(m.client_ns, client_env, "agent", "stop")
    assert isinstance(clone, dict)
    assert clone["status"] == "completed" and clone["x"] == {"x": 2.0}, clone
    assert clone["uri"].startswith(f"{url}/files/")
    if summary is not None:  # a search on the other machine: its trials ran on the agent there
        assert summary["state"] == "finished" and summary["counts"]["completed"] == 2, summary

    link = m.hpo(m.server_ns, server_env, "server", "ui", "--data-dir", str(data_dir)).strip()
    assert link.startswith(f"{url}/login?token=")
    (m.root / "ui.py").write_text(textwrap.dedent(UI))
    ui = _result(m.run(m.client_ns, [PYTHON, "ui.py", link, url, first["id"]], client_env).stdout)
    assert isinstance(ui, dict) and ui["signed_in"] == 200 and ui["hrefs"], ui  # the remote upload is linked
    assert json.loads(ui["body"]) == {"x": 1.0}

    if tls:  # the client checks the certificate: without the CA it refuses the server
        (m.root / "ping.py").write_text(textwrap.dedent(PING))
        untrusted = m.env("client", exports)
        refused = _result(m.run(m.client_ns, [PYTHON, "ping.py", url], untrusted).stdout)
        assert "CERTIFICATE_VERIFY_FAILED" in str(refused), refused
    m.hpo(m.server_ns, server_env, "server", "stop", "--data-dir", str(data_dir))
