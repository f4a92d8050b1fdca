"""Credentials and login tokens.

Credentials (an access key, a secret key and the token signing secret) are generated at the
first start and stored with mode 0600 in the data directory. ``auth.login`` exchanges HTTP Basic
credentials for a signed JWT; the SDK decodes that token without verifying it and reads
``api_version`` from it, so it must carry one. Every other endpoint needs a valid token.

The web UI signs its session cookies and one-time sign-in links with the same secret
(:mod:`hpo.server.ui._session`), so every token names its purpose and :func:`check_token` takes
only :data:`API_PURPOSE`: a UI cookie or a sign-in link is never an API token, and ``auth.login``
cannot exchange one for an API token. Failed sign-ins are counted per client address
(:class:`SignInThrottle`) by ``auth.login`` and the UI alike.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from hpo.server._config import API_VERSION, SERVER_VERSION
from hpo.server._errors import unauthorized

TOKEN_LIFETIME_S = 30 * 24 * 3600
USER_ID = "hpo-user"
USER_NAME = "hpo"
COMPANY_ID = "hpo"
API_PURPOSE = "api"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token_secret: str


def load_or_create_credentials(path: Path) -> Credentials:
    """Read the data dir's credentials, creating them (mode 0600) on first use."""
    if path.exists():
        data = json.loads(path.read_text())
        return Credentials(data["access_key"], data["secret_key"], data["token_secret"])
    creds = Credentials(
        access_key="HPO" + secrets.token_hex(10).upper(),
        secret_key=secrets.token_urlsafe(36),
        token_secret=secrets.token_urlsafe(48),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(creds.__dict__, fh)
    os.replace(tmp, path)
    return creds


@dataclass(frozen=True)
class Identity:
    user: str
    company: str


def issue_token(creds: Credentials) -> str:
    now = int(time.time())
    payload = {
        "purpose": API_PURPOSE,
        "identity": {"user": USER_ID, "company": COMPANY_ID, "role": "admin", "user_name": USER_NAME},
        "api_version": API_VERSION,
        "server_version": SERVER_VERSION,
        "feature_set": "basic",
        "iat": now,
        "exp": now + TOKEN_LIFETIME_S,
    }
    return jwt.encode(payload, creds.token_secret, algorithm="HS256")


def check_basic(creds: Credentials, header: str | None) -> Identity:
    """Validate HTTP Basic credentials sent to ``auth.login``."""
    if not header or not header.lower().startswith("basic "):
        raise unauthorized(10, "missing credentials (send the access key and secret key with HTTP Basic auth)")
    try:
        key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise unauthorized(10, "malformed Basic authorization header") from err
    if not (hmac.compare_digest(key, creds.access_key) and hmac.compare_digest(secret, creds.secret_key)):
        raise unauthorized(20, "invalid access key or secret key (run `hpo server env` for the right ones)")
    return Identity(USER_ID, COMPANY_ID)


# Tokens already verified: (secret, token) -> (expiry, identity). A client sends one token on every
# call; verifying its signature each time cost ~0.1 ms of every events.add_batch. Bounded: cleared
# when full. Only accepted API tokens are kept, and only until their ``exp``.
_VERIFIED: dict[tuple[str, str], tuple[float, Identity]] = {}
_VERIFIED_MAX = 1024


def check_token(creds: Credentials, header: str | None) -> Identity:
    """Validate the Bearer token of an API or file-server call."""
    if not header or not header.lower().startswith("bearer "):
        raise unauthorized(10, "missing token (log in with auth.login first)")
    token = header[7:].strip()
    known = _VERIFIED.get((creds.token_secret, token))
    if known is not None and time.time() < known[0]:
        return known[1]
    identity, expires = _decode_api_token(creds, token)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[(creds.token_secret, token)] = (expires, identity)
    return identity


def _decode_api_token(creds: Credentials, token: str) -> tuple[Identity, float]:
    """The identity of a valid API token and when it expires; raises ``unauthorized`` otherwise."""
    try:
        payload: dict[str, Any] = jwt.decode(token, creds.token_secret, algorithms=["HS256"])
    except jwt.ExpiredSignatureError as err:
        raise unauthorized(22, "token expired, log in again") from err
    except jwt.InvalidTokenError as err:
        raise unauthorized(21, "invalid token") from err
    ident = payload.get("identity")
    # API tokens issued before purposes existed carry an identity and no purpose; UI tokens never
    # carry an identity.
    purpose = payload.get("purpose", API_PURPOSE if isinstance(ident, dict) else None)
    if purpose != API_PURPOSE or not isinstance(ident, dict):
        raise unauthorized(21, "not an API token (a web UI session or sign-in link); log in with auth.login")
    identity = Identity(str(ident.get("user", USER_ID)), str(ident.get("company", COMPANY_ID)))
    kept_until = time.time() + 3600  # verified again at least hourly, also a token without exp
    expires = payload.get("exp")
    return identity, min(float(expires), kept_until) if isinstance(expires, int | float) else kept_until


def authenticate(creds: Credentials, headers: dict[str, str], basic_ok: bool = False) -> Identity:
    """Accept a Bearer token, or (where ``basic_ok``) Basic credentials."""
    header = headers.get("authorization")
    if basic_ok and not (header and header.lower().startswith("bearer ")):
        return check_basic(creds, header)
    return check_token(creds, header)  # a Bearer token is judged as one, also by auth.login


class SignInThrottle:
    """Counts failed sign-ins per client address; too many in a window refuse that address a while.

    Thread-safe (it holds a lock), though the API and the UI both count on the event loop.

    Args:
        failures: Failures allowed per address within ``window_s``.
        window_s: The sliding window, in seconds.
        max_addresses: Addresses remembered at most (the oldest are forgotten first).
    """

    def __init__(self, failures: int = 10, window_s: float = 60.0, max_addresses: int = 10_000) -> None:
        self.failures, self.window_s, self.max_addresses = failures, window_s, max_addresses
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.get(address, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again; 0 when it may now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.failures:
                return 0
            return max(1, int(times[0] + self.window_s - now + 0.999))

    def failed(self, address: str) -> None:
        """Count one failed sign-in from ``address``."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            times.append(now)
            self._seen.pop(address, None)
            self._seen[address] = times  # most recent last: the oldest address is forgotten first
            while len(self._seen) > self.max_addresses:
                del self._seen[next(iter(self._seen))]
