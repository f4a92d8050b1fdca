"""The sign-in page, the one-time sign-in link, sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hpo.server.ui._render import Endpoint, html
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


def make_login(sessions: Sessions) -> Endpoint:
    async def login(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if request.method == "GET":
            token = request.query_params.get("token")
            if token is None:
                return _form_page(next_path)
            if sessions.redeem_link(token):
                return _signed_in(sessions, request, next_path)
            return _form_page(next_path, 403, "This sign-in link is expired or used: run `hpo server ui` again.")
        form = await request.form()
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        given = str(form.get("login_token") or "")
        next_path = safe_next(str(form.get("next") or ""))
        if not expected or not hmac.compare_digest(expected, given):
            return _form_page(next_path, 403, "The sign-in form expired: try again.")
        if not sessions.keys_match(str(form.get("access_key") or ""), str(form.get("secret_key") or "")):
            return _form_page(next_path, 403, "Wrong access key or secret key (`hpo server env` prints them).")
        return _signed_in(sessions, request, next_path)

    return login


async def logout(request: Request, ctx: dict[str, Any]) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
