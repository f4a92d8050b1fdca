"""Templates, the signed-in check every page passes, and the 404 and error pages.

Jinja autoescapes every template; figures reach the page as HTML-safe JSON (``<``, ``>``, ``&``
and ``'`` escaped, no NaN) in ``<script type="application/json">`` blocks, which no browser runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import plotly
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hpo.server._errors import APIError
from hpo.server.domain import DRAFT_STATUS
from hpo.server.ui._session import COOKIE, Sessions

_HERE = Path(__file__).parent
# The policy forbids inline scripts: user text can never become code. Plotly needs eval for some
# trace types and inline styles.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data: blob:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class NotFound(Exception):
    """A page names an id the store does not hold."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"{kind} {value!r}")
        self.kind, self.value = kind, value


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def figure_json(value: Any) -> Markup:
    """JSON that is safe inside HTML (a ``</script>`` in a title stays text)."""
    text = json.dumps(_finite(value), allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    return Markup(text)  # noqa: S704 - escaped just above


def _query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in merged.items() if v not in (None, "", [])], doseq=True)


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    undefined=jinja2.ChainableUndefined,  # documents from old SDKs may lack any field
)
ENV.filters["figure_json"] = figure_json
ENV.filters["urlpart"] = lambda v: quote(str(v), safe="")
ENV.globals["query"] = _query
ENV.globals["DRAFT_STATUS"] = DRAFT_STATUS
ENV.globals["plotly_src"] = f"/ui/static/plotly-{plotly.__version__}.min.js"


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf", "")
    context.setdefault("notices", [])
    return HTMLResponse(ENV.get_template(template).render(**context), status_code=status, headers=_headers())


Endpoint = Callable[[Request], Awaitable[Response]]
View = Callable[[Request, dict[str, Any]], Awaitable[Response]]


def guarded(sessions: Sessions, view: View) -> Endpoint:
    """Refuse without a session (and, for POST, without the session's CSRF token); map errors to pages.

    The view gets a context holding ``csrf`` for the forms it renders.
    """

    async def endpoint(request: Request) -> Response:
        sid = sessions.session_id(request.cookies.get(COOKIE))
        if sid is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
            return html("error.html", 403, title="Not signed in", message="Sign in first: this action needs a session.")
        ctx: dict[str, Any] = {"csrf": sessions.csrf_token(sid)}
        if request.method == "POST":
            form = await request.form()
            if not sessions.csrf_ok(sid, str(form.get("csrf") or "")):
                return html("error.html", 403, title="Refused", message="Missing or wrong CSRF token: reload the page.")
            ctx["form"] = form
        try:
            return await view(request, ctx)
        except NotFound as err:
            return html("error.html", 404, title="Not found", message=f"No {err.kind} with id {err.value!r}.", **ctx)
        except APIError as err:
            return html("error.html", err.code, title="Refused", message=err.msg, **ctx)

    return endpoint
