"""The ASGI application: ClearML's transport in front of the route modules.

ClearML clients call ``{GET|POST} /[v2.x/]service.action`` with a JSON body (the SDK sends GET
with a body) or, for ``events.add_batch``, JSON lines. Every answer is ``{"meta", "data"}`` with
the HTTP status equal to ``meta.result_code``. Requests are handled one at a time on the event
loop, so handlers see a consistent store without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import traceback
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hpo.server import _files
from hpo.server._auth import Credentials, Identity, authenticate, load_or_create_credentials
from hpo.server._config import API_VERSION, ServerConfig
from hpo.server._errors import APIError, bad_json, invalid_endpoint
from hpo.server._router import Call, Data, Handler, Runtime
from hpo.server.routes import PERIODIC, ROUTERS
from hpo.server.store import Database, Store
from hpo.server.ui import routes as ui_routes

log = logging.getLogger(__name__)

_PATH = re.compile(r"^/(?:api/)?(?:v(?P<version>\d+\.\d+)/)?(?P<endpoint>[a-z_]+\.[a-z_]+)/?$")
_PUBLIC = {"auth.login", "debug.ping", "server.info"}


class ServerState:
    """Everything one app instance owns."""

    def __init__(self, config: ServerConfig) -> None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config.files_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.credentials: Credentials = load_or_create_credentials(config.credentials_path)
        self.db = Database(config.db_path)
        self.store = Store(self.db)
        self.runtime = Runtime(credentials=self.credentials)
        self.handlers: dict[str, Handler] = {}
        for router in ROUTERS:
            self.handlers.update(router.handlers)

    def run_periodic(self) -> None:
        for job in PERIODIC:
            try:
                job(self.store, self.runtime, self.config)
                self.store.commit()
            except Exception:
                self.store.rollback()
                log.exception("periodic job %s failed", getattr(job, "__name__", job))


def _envelope(endpoint: str, version: str | None, code: int, subcode: int, msg: str, data: Any) -> Response:
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
    return JSONResponse({"meta": meta, "data": data}, status_code=code)


async def _parse_body(request: Request) -> tuple[Data, list[Data] | None]:
    raw = await request.body()
    query = dict(request.query_params)
    if not raw.strip():
        return query, None
    ctype = request.headers.get("content-type", "")
    try:
        if "json-lines" in ctype or "jsonlines" in ctype:
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            if not all(isinstance(item, dict) for item in lines):
                raise bad_json("every line must be a JSON object")
            return query, lines
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise bad_json(str(err)) from err
    if isinstance(body, list):
        if not all(isinstance(item, dict) for item in body):
            raise bad_json("a list body must hold JSON objects")
        return query, body
    if not isinstance(body, dict):
        raise bad_json(f"expected a JSON object, got {type(body).__name__}")
    return {**query, **body}, None


def _make_api(state: ServerState) -> Callable[[Request], Any]:
    async def api(request: Request) -> Response:
        match = _PATH.match(request.url.path)
        if not match:
            return _envelope(request.url.path.strip("/"), None, 400, 1, "Invalid endpoint: malformed path", {})
        endpoint, version = match["endpoint"], match["version"]
        try:
            handler = state.handlers.get(endpoint)
            if handler is None:
                raise invalid_endpoint(endpoint)
            identity = (
                Identity("", "")
                if endpoint in _PUBLIC and endpoint != "auth.login"
                else authenticate(state.credentials, dict(request.headers), basic_ok=endpoint == "auth.login")
            )
            body, lines = await _parse_body(request)
            call = Call(endpoint, body, state.store, identity, state.config, state.runtime, lines)
            try:
                data = handler(call)
                state.store.commit()
            except BaseException:
                state.store.rollback()
                raise
        except APIError as err:
            return _envelope(endpoint, version, err.code, err.subcode, err.msg, err.extra or {})
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
                state.run_periodic()

        task = asyncio.create_task(watchdog())
        try:
            yield
        finally:
            task.cancel()
            state.db.close()

    api = _make_api(state)
    files = _files.make_endpoint(config.files_dir, state.credentials)
    methods = ["GET", "POST", "PUT", "HEAD", "DELETE"]
    app = Starlette(
        routes=[
            Route("/files", files, methods=methods),
            Route("/files/{path:path}", files, methods=methods),
            *ui_routes(state),  # the web UI at the SDK's result-page paths; none looks like service.action
            Route("/{path:path}", api, methods=["GET", "POST", "PUT"]),
        ],
        lifespan=lifespan,
    )
    app.state.server = state
    return app
