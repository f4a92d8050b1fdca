"""The UI's only way to change anything: the API's own route handlers, called in process.

Actions run the same handler the SDK's request would reach (``tasks.clone``, ``tasks.enqueue``
...), so a request is checked once, and every status rule lives once, in ``hpo.server.domain``,
which the handlers apply. The handlers are the app's (``Server.handlers``): this module imports
no route module. Several calls of one action commit together or not at all, like one API request.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from hpo.server._auth import COMPANY_ID, USER_ID, Credentials, Identity
from hpo.server._config import ServerConfig
from hpo.server._errors import invalid_endpoint
from hpo.server._router import Call, Data, Handler, Runtime
from hpo.server.store import Store


class Server(Protocol):
    """What the UI needs of the app's server state (``hpo.server._app.ServerState``)."""

    config: ServerConfig
    credentials: Credentials
    store: Store
    runtime: Runtime
    handlers: dict[str, Handler]

    def exclusive_store(self) -> AbstractAsyncContextManager[None]:
        """Hold the store against the API's store thread for the duration of a view."""
        ...


def dispatch(server: Server, *calls: tuple[str, Data]) -> list[Data]:
    """Run API calls as the local user and commit them together.

    Raises:
        APIError: The handler's own refusal (nothing of any call is kept).
    """
    identity = Identity(USER_ID, COMPANY_ID)
    results: list[Data] = []
    try:
        for endpoint, body in calls:
            handler = server.handlers.get(endpoint)
            if handler is None:
                raise invalid_endpoint(endpoint)
            call = Call(endpoint, body, server.store, identity, server.config, server.runtime)
            results.append(handler(call) or {})
        server.store.commit()
    except BaseException:
        server.store.rollback()
        raise
    return results
