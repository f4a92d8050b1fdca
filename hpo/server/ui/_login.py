"""The sign-in page, the one-time sign-in link, sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hpo.server.ui._render import Endpoint, View, html
from hpo.server.ui._session import COOKIE, LOGIN_COOKIE, SESSION_S, Sessions


def safe_next(value: str | None) -> str:
    """A same-site path to land on after signing in (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/projects"
    parsed = urlparse(value)
    return value if not parsed.netloc and not parsed.scheme else "/projects"


def _signed_in(sessions: Sessions, request: Request, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        sessions.new_session(),
        max_age=SESSION_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _form_page(next_path: str, status: int = 200, error: str = "") -> Response:
    token = secrets.token_urlsafe(16)
    response = html("login.html", status, next=next_path, login_token=token, error=error)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict", path="/login")
    return response


def _throttled(next_path: str, wait: int) -> Response:
    message = f"Too many failed sign-ins from this address: try again in {wait} s."
    response = _form_page(next_path, 429, message)
    response.headers["Retry-After"] = str(wait)
    return response


def make_login(sessions: Sessions) -> Endpoint:
    async def login(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        client = request.client.host if request.client else ""
        wait = sessions.throttle.retry_after(client)
        if request.method == "GET":
            token = request.query_params.get("token")
            if token is None:
                return _form_page(next_path)
            if wait:
                return _throttled(next_path, wait)
            if sessions.redeem_link(token):
                return _signed_in(sessions, request, next_path)
            sessions.throttle.failed(client)
            return _form_page(next_path, 403, "This sign-in link is expired or used: run `hpo server ui` again.")
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        given = str(form.get("login_token") or "")
        next_path = safe_next(str(form.get("next") or ""))
        if wait:
            return _throttled(next_path, wait)
        if not expected or not hmac.compare_digest(expected, given):
            return _form_page(next_path, 403, "The sign-in form expired: try again.")
        if not sessions.keys_match(str(form.get("access_key") or ""), str(form.get("secret_key") or "")):
            sessions.throttle.failed(client)
            return _form_page(next_path, 403, "Wrong access key or secret key (`hpo server env` prints them).")
        return _signed_in(sessions, request, next_path)

    return login


def make_logout(sessions: Sessions) -> View:
    """Sign-out: the session ends on the server too, so a copy of its cookie is refused."""

    async def logout(request: Request, ctx: dict[str, Any]) -> Response:
        sessions.end_session(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return logout
