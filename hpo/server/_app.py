"""The ASGI application: ClearML's transport in front of the route modules.

ClearML clients call ``{GET|POST} /[v2.x/]service.action`` with a JSON body (the SDK sends GET
with a body) or, for ``events.add_batch``, JSON lines. Every answer is ``{"meta", "data"}`` with
the HTTP status equal to ``meta.result_code``.

What a request passes before a handler sees it, in order (cheapest refusal first):

1. the token (every endpoint but :data:`PUBLIC`; an unknown endpoint without one is 401 too, so
   names cannot be probed), checked on the headers before any body byte is read;
2. the body size (:data:`PUBLIC_BODY_LIMIT` before authentication, ``config.max_body_bytes``
   after; 413) and its arrival time (``config.body_timeout_s`` per chunk; 408);
3. :func:`~hpo.server._body.parse_body` (storable JSON only) and the endpoint's request schema
   from the SDK (:mod:`~hpo.server._schemas`), off the event loop.

Web UI paths (anything that is neither a ``service.action`` call nor ``/files``) answer only for a
Host the server serves (:class:`HostGuard`): a page of another site whose name was re-bound to
this address (DNS rebinding) gets 421 instead of the UI.

Handlers then run one at a time on a single store thread, so they see a consistent store without
locks while the event loop stays free: ``debug.ping`` answers at once beside any slow request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import threading
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hpo.server import _files
from hpo.server._auth import Credentials, Identity, SignInThrottle, authenticate, load_or_create_credentials
from hpo.server._body import parse_body, read_body
from hpo.server._config import API_VERSION, ServerConfig
from hpo.server._datadir import private_dir
from hpo.server._errors import APIError, invalid_endpoint, validation
from hpo.server._router import Call, Data, Handler, Runtime
from hpo.server._schemas import check_request, request_schemas, schemas_ready
from hpo.server.routes import PERIODIC, handlers
from hpo.server.store import Database, Store
from hpo.server.ui import routes as ui_routes

log = logging.getLogger(__name__)

_PATH = re.compile(r"^/(?:api/)?(?:v(?P<version>\d+\.\d+)/)?(?P<endpoint>[a-z_]+\.[a-z_]+)/?$")
# Answer without a token: logging in, and the liveness probe (it returns nothing but a greeting).
PUBLIC = frozenset({"auth.login", "debug.ping"})
PUBLIC_BODY_LIMIT = 64 * 1024


class ServerState:
    """Everything one app instance owns."""

    def __init__(self, config: ServerConfig) -> None:
        private_dir(config.data_dir)
        private_dir(config.files_dir)
        self.config = config
        self.credentials: Credentials = load_or_create_credentials(config.credentials_path)
        self.db = Database(config.db_path)
        self.store = Store(self.db)
        self.runtime = Runtime(credentials=self.credentials)
        self.sign_ins = SignInThrottle()  # failed auth.login calls per client address
        self.handlers: dict[str, Handler] = handlers()
        # The one thread that touches the store: requests stay serialised, the event loop free.
        self.store_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpo-store")
        # Read the SDK's schemas in the background: the first request need not wait for them.
        threading.Thread(target=request_schemas, name="hpo-schemas", daemon=True).start()

    def run_periodic(self) -> None:
        for job in PERIODIC:
            try:
                job(self.store, self.runtime, self.config)
                self.store.commit()
            except Exception:
                self.store.rollback()
                log.exception("periodic job %s failed", getattr(job, "__name__", job))

    def handle(self, handler: Handler, call: Call) -> Data | None:
        """Run one handler and commit its writes, or roll them back; on the store thread."""
        try:
            data = handler(call)
            self.store.commit()
        except BaseException:
            self.store.rollback()
            raise
        return data

    def parse_and_handle(
        self, endpoint: str, handler: Handler, identity: Identity, raw: bytes, ctype: str, query: Data
    ) -> Data | None:
        """Parse and check a request, then :meth:`handle` it; on the store thread (one hop, not two).

        Parsing on another thread gains nothing in one interpreter (the GIL); it only cost a second
        thread hop per request (``events.add_batch`` bodies are over the size parsed on the loop).
        """
        body, lines, rejected = _checked_body(endpoint, raw, ctype, query)
        call = Call(endpoint, body, self.store, identity, self.config, self.runtime, lines, rejected)
        return self.handle(handler, call)

    async def on_store_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.store_thread, fn, *args)

    @contextlib.asynccontextmanager
    async def exclusive_store(self) -> AsyncIterator[None]:
        """Own the store from the event loop (the web UI's views): the store thread waits meanwhile.

        Requests queue behind the holder as they queue behind each other; ``debug.ping`` does not.
        """
        loop = asyncio.get_running_loop()
        entered = asyncio.Event()
        release = threading.Event()

        def hold() -> None:
            loop.call_soon_threadsafe(entered.set)
            release.wait()

        parked = loop.run_in_executor(self.store_thread, hold)
        await entered.wait()
        try:
            yield
        finally:
            release.set()
            await parked

    def close(self) -> None:
        self.store_thread.shutdown(wait=True)
        self.db.close()


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower case, without port, brackets or trailing dot."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


class HostGuard:
    """Answers 421 to a web UI request whose ``Host`` this server does not serve.

    Which hosts are served is :meth:`ServerConfig.serves_host`'s rule: ``localhost``, loopback
    addresses, the bound address, the public URL's host, and, bound to every address, any IP
    address and this machine's name. An IP literal cannot come from DNS rebinding; a name can, so
    other names are refused. API and file-server calls are left alone (they need a token a foreign
    page cannot have).
    """

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.serves = config.serves_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        ui = scope["type"] == "http" and not _PATH.match(path) and path != "/files" and not path.startswith("/files/")
        if ui:
            header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
            if not self.serves(host_name(header)):
                text = f"This server does not serve the host {header[:100]!r}: open it by its address."
                await PlainTextResponse(text, status_code=421)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _envelope(
    endpoint: str,
    version: str | None,
    code: int,
    subcode: int,
    msg: str,
    data: Any,
    close: bool = False,
    retry_after: int = 0,
) -> Response:
    meta = {
        "id": uuid.uuid4().hex,
        "trx": uuid.uuid4().hex,
        "endpoint": {"name": endpoint, "requested_version": version or API_VERSION, "actual_version": "1.0"},
        "result_code": code,
        "result_subcode": subcode,
        "result_msg": msg,
        "error_stack": "",
        "error_data": {},
    }
    # close a connection whose body was left unread, instead of reading (and discarding) it all
    headers = {"connection": "close"} if close else {}
    if retry_after:
        headers["retry-after"] = str(retry_after)
    return JSONResponse({"meta": meta, "data": data}, status_code=code, headers=headers)


def _checked_body(
    endpoint: str, raw: bytes, content_type: str, query: Data
) -> tuple[Data, list[Data] | None, list[str]]:
    """Parse a body and check it against the endpoint's request schema (CPU-bound: off the loop).

    Returns the body, the lines of a batch and the problems of the lines left out: an event batch
    keeps its valid lines (ClearML stores them and reports the rest); any other bad line fails it all.
    """
    body, lines = parse_body(raw, content_type, query)
    if endpoint == "debug.ping":  # no schema, and never waits for the schemas to be read
        return body, lines, []
    problem = check_request(endpoint, body)
    if problem:
        raise validation(f"{problem} ({endpoint})")
    kept: list[Data] = []
    rejected: list[str] = []
    for index, line in enumerate(lines or ()):
        problem = check_request(endpoint, line)
        if not problem:
            kept.append(line)
        elif endpoint == "events.add_batch":
            rejected.append(problem)
        else:
            raise validation(f"item {index}: {problem} ({endpoint})")
    return body, (kept if lines is not None else None), rejected


def _make_api(state: ServerState) -> Callable[[Request], Any]:
    config = state.config

    async def api(request: Request) -> Response:
        match = _PATH.match(request.url.path)
        endpoint = match["endpoint"] if match else request.url.path.strip("/")[:100]
        version = match["version"] if match else None
        unread = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
        client = request.client.host if request.client else ""
        wait = state.sign_ins.retry_after(client) if endpoint == "auth.login" else 0
        if wait:
            msg = f"Too many failed sign-ins from {client}: retry after {wait} s"
            return _envelope(endpoint, version, 429, 0, msg, {}, close=unread, retry_after=wait)
        try:
            public = endpoint in PUBLIC
            identity = (
                Identity("", "")
                if endpoint == "debug.ping"
                else authenticate(state.credentials, dict(request.headers), basic_ok=endpoint == "auth.login")
            )
            handler = state.handlers.get(endpoint) if match else None
            if handler is None:
                raise invalid_endpoint(endpoint) if match else APIError(400, 1, "Invalid endpoint: malformed path")
            limit = PUBLIC_BODY_LIMIT if public else config.max_body_bytes
            raw = await read_body(request, limit, config.body_timeout_s)
            unread = False
            ctype = request.headers.get("content-type", "")
            query = dict(request.query_params)
            if endpoint != "debug.ping" and schemas_ready():  # parsed on the store thread: one thread hop
                args = (endpoint, handler, identity, raw, ctype, query)
                data = await state.on_store_thread(state.parse_and_handle, *args)
            else:
                if len(raw) < 4096 and (schemas_ready() or endpoint == "debug.ping"):  # not worth a thread hop
                    body, lines, rejected = _checked_body(endpoint, raw, ctype, query)
                else:
                    body, lines, rejected = await run_in_threadpool(_checked_body, endpoint, raw, ctype, query)
                call = Call(endpoint, body, state.store, identity, state.config, state.runtime, lines, rejected)
                if endpoint == "debug.ping":
                    data = handler(call)  # touches no store: never queued behind a slow request
                else:
                    data = await state.on_store_thread(state.handle, handler, call)
        except APIError as err:
            log.debug("refused %s: %s", endpoint, err.msg)
            if endpoint == "auth.login" and err.code == 401:
                state.sign_ins.failed(client)
            return _envelope(endpoint, version, err.code, err.subcode, err.msg, err.extra or {}, close=unread)
        except Exception as err:  # a bug: answer 500 (never retried forever), keep serving
            log.error("%s failed:\n%s", endpoint, traceback.format_exc())
            return _envelope(endpoint, version, 500, 0, f"Internal server error: {type(err).__name__}", {})
        return _envelope(endpoint, version, 200, 0, "OK", data if data is not None else {})

    return api


def create_app(config: ServerConfig) -> Starlette:
    """Build the server's ASGI app over ``config.data_dir``."""
    state = ServerState(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def watchdog() -> None:
            while True:
                await asyncio.sleep(config.watchdog_period_s)
                await state.on_store_thread(state.run_periodic)

        task = asyncio.create_task(watchdog())
        try:
            yield
        finally:
            task.cancel()
            state.close()

    api = _make_api(state)
    files = _files.make_endpoint(config.files_dir, state.credentials, config.body_timeout_s)
    methods = ["GET", "POST", "PUT", "HEAD", "DELETE"]
    app = Starlette(
        routes=[
            Route("/files", files, methods=methods),
            Route("/files/{path:path}", files, methods=methods),
            *ui_routes(state),  # the web UI at the SDK's result-page paths; none looks like service.action
            Route("/{path:path}", api, methods=["GET", "POST", "PUT"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(HostGuard, config=config)],
    )
    app.state.server = state
    return app
