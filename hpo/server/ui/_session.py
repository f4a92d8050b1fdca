"""Signing in to the web UI: session cookies, one-time sign-in links and CSRF tokens.

The UI accepts the API's credentials (the access and secret key of the data dir's
``credentials.json``) and signs everything with that file's token secret, so the CLI of the same
local user can mint a sign-in link without talking to the server. Invariants:

- a session is an HS256 JWT in an HttpOnly, SameSite=Lax cookie, valid :data:`SESSION_S` and
  only while the server holds its id: signing out forgets the id, so a copied cookie dies with
  the session, and a restarted server has signed everyone out;
- UI tokens say their purpose and carry no identity: the API refuses them (``_auth.check_token``);
- failed sign-ins (wrong keys, a bad or used link) are throttled per client address;
- a sign-in link's token is valid :data:`LINK_S` and once (the server remembers used ids until
  they expire);
- every POST carries a CSRF token bound to the session id (HMAC of it), checked before any work.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt

from hpo.server._auth import Credentials, SignInThrottle

COOKIE = "hpo_ui_session"
LOGIN_COOKIE = "hpo_ui_login"  # the double-submit token of the sign-in form, before any session
SESSION_S = 12 * 3600
MAX_SESSIONS = 1000  # live sessions held at most; the oldest is signed out first
LINK_S = 300
_SESSION = "ui-session"
_LINK = "ui-link"


def sign_in_link(creds: Credentials, base_url: str, next_path: str = "/") -> str:
    """A one-time URL that signs its opener in (for ``hpo server ui``).

    Args:
        creds: The data dir's credentials (whoever can read them may use the server anyway).
        base_url: The server's URL, e.g. ``http://127.0.0.1:8008``.
        next_path: The UI page to land on.
    """
    now = int(time.time())
    token = jwt.encode(
        {"purpose": _LINK, "jti": secrets.token_urlsafe(12), "iat": now, "exp": now + LINK_S},
        creds.token_secret,
        algorithm="HS256",
    )
    suffix = "" if next_path == "/" else "&" + urlencode({"next": next_path})
    return f"{base_url.rstrip('/')}/login?token={token}{suffix}"


def _decode(creds: Credentials, token: str, purpose: str) -> dict[str, Any] | None:
    try:
        payload: dict[str, Any] = jwt.decode(token, creds.token_secret, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None
    return payload if payload.get("purpose") == purpose else None


@dataclass
class Sessions:
    """Issues and checks sessions for one server (thread-safety: the server's event loop only)."""

    creds: Credentials
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    _used_links: dict[str, float] = field(default_factory=dict)
    _live: dict[str, float] = field(default_factory=dict)  # session id -> expiry, oldest first

    def keys_match(self, access_key: str, secret_key: str) -> bool:
        return hmac.compare_digest(access_key, self.creds.access_key) and hmac.compare_digest(
            secret_key, self.creds.secret_key
        )

    def redeem_link(self, token: str) -> bool:
        """True once per valid, unexpired sign-in link token."""
        payload = _decode(self.creds, token, _LINK)
        now = time.time()
        self._used_links = {jti: exp for jti, exp in self._used_links.items() if exp > now}
        if payload is None or str(payload.get("jti")) in self._used_links:
            return False
        self._used_links[str(payload["jti"])] = float(payload.get("exp", now + LINK_S))
        return True

    def new_session(self) -> str:
        now = int(time.time())
        sid = secrets.token_urlsafe(16)
        self._live = {s: exp for s, exp in self._live.items() if exp > now}
        while len(self._live) >= MAX_SESSIONS:
            del self._live[next(iter(self._live))]
        self._live[sid] = now + SESSION_S
        payload = {"purpose": _SESSION, "sid": sid, "iat": now, "exp": now + SESSION_S}
        return jwt.encode(payload, self.creds.token_secret, algorithm="HS256")

    def session_id(self, cookie: str | None) -> str | None:
        """The session id of a valid, live session cookie, else None."""
        if not cookie:
            return None
        payload = _decode(self.creds, cookie, _SESSION)
        sid = str(payload["sid"]) if payload and payload.get("sid") else None
        return sid if sid is not None and self._live.get(sid, 0) > time.time() else None

    def end_session(self, cookie: str | None) -> None:
        """Sign the session of ``cookie`` out: its cookie is refused from now on, wherever it was copied."""
        sid = self.session_id(cookie)
        if sid is not None:
            del self._live[sid]

    def csrf_token(self, sid: str) -> str:
        return hmac.new(self.creds.token_secret.encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(sid), str(token))
