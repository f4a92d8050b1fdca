"""optuna-dashboard served from a background thread on 127.0.0.1, with a clean stop.

optuna-dashboard's own ``run_server`` blocks and handles one request at a time; here its WSGI app
runs under a threaded ``wsgiref`` server (the web page loads several API routes at once) whose
``shutdown`` ends it cleanly, so a search can serve it alongside itself and stop it at the end.
"""

from __future__ import annotations

import errno
import logging
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna

from hpo.dashboard._links import configured_web_host
from hpo.dashboard._storage import LinkedStorage
from hpo.errors import ConfigError, HPOError
from hpo.study import load, open_storage

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080  # optuna-dashboard's own default
HOST = "127.0.0.1"  # the dashboard can edit and delete studies: never expose it beyond this machine


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's keep-alive connection must not hold up stop()


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to the debug log instead of stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("dashboard: " + format, *args)


@dataclass
class DashboardHandle:
    """A running dashboard.

    Attributes:
        url: Where to point a browser (the study's page when a study was named).
        port: The port it listens on (useful when 0 was asked for).
    """

    url: str
    port: int
    _server: WSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout)
        self._server.server_close()

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread (or Ctrl-C)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> DashboardHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_dashboard(
    storage_url: str | None = None,
    study: str | None = None,
    port: int = DEFAULT_PORT,
    web_host: str | None = None,
) -> DashboardHandle:
    """Serve optuna-dashboard over the study storage on 127.0.0.1 until ``stop()``.

    Args:
        storage_url: Optuna storage URL (default: the search's, ``$HPO_STORAGE`` or SQLite under
            ``$HPO_HOME``).
        study: A study to open the URL at; ``None`` for the list of all studies.
        port: Port to listen on; 0 picks a free one.
        web_host: ClearML web UI address for task links (default: ``CLEARML_WEB_HOST``, else
            ``api.web_server`` in ``clearml.conf``, else no links).

    Returns:
        A handle with the URL and ``stop()``.

    Raises:
        ConfigError: The storage cannot be opened or the port is taken.
        NotFoundError: ``study`` is not in the storage.
    """
    from optuna_dashboard import wsgi

    storage = open_storage(storage_url)
    path = "/dashboard"
    if study is not None:
        path = f"/dashboard/studies/{_study_id(storage, study)}"
    app = wsgi(LinkedStorage(storage, configured_web_host(web_host)))
    try:
        server = make_server(HOST, port, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {HOST} is in use; pass another with --port (0 picks a free one)"
            ) from err
        raise HPOError(f"cannot listen on {HOST}:{port}: {err}") from err
    bound = int(server.server_port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="dashboard")
    thread.start()
    log.info("optuna-dashboard on http://%s:%d", HOST, bound)
    return DashboardHandle(url=f"http://{HOST}:{bound}{path}", port=bound, _server=server, _thread=thread)


def _study_id(storage: optuna.storages.BaseStorage, study: str) -> int:
    return int(storage.get_study_id_from_name(load(study, storage).study_name))


__all__ = ["DEFAULT_PORT", "DashboardHandle", "start_dashboard"]
