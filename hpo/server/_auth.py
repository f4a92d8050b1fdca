"""Credentials and login tokens.

Credentials (an access key, a secret key and the token signing secret) are generated at the
first start and stored with mode 0600 in the data directory. ``auth.login`` exchanges HTTP Basic
credentials for a signed JWT; the SDK decodes that token without verifying it and reads
``api_version`` from it, so it must carry one. Every other endpoint needs a valid token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from hpo.server._config import API_VERSION, SERVER_VERSION
from hpo.server._errors import APIError, unauthorized

TOKEN_LIFETIME_S = 30 * 24 * 3600
USER_ID = "hpo-user"
USER_NAME = "hpo"
COMPANY_ID = "hpo"


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


def check_token(creds: Credentials, header: str | None) -> Identity:
    """Validate the Bearer token of an API or file-server call."""
    if not header or not header.lower().startswith("bearer "):
        raise unauthorized(10, "missing token (log in with auth.login first)")
    try:
        payload: dict[str, Any] = jwt.decode(header[7:].strip(), creds.token_secret, algorithms=["HS256"])
    except jwt.ExpiredSignatureError as err:
        raise unauthorized(22, "token expired, log in again") from err
    except jwt.InvalidTokenError as err:
        raise unauthorized(21, "invalid token") from err
    ident = payload.get("identity") or {}
    return Identity(str(ident.get("user", USER_ID)), str(ident.get("company", COMPANY_ID)))


def authenticate(creds: Credentials, headers: dict[str, str], basic_ok: bool = False) -> Identity:
    """Accept a Bearer token, or (where ``basic_ok``) Basic credentials."""
    header = headers.get("authorization")
    if basic_ok and header and header.lower().startswith("basic "):
        return check_basic(creds, header)
    try:
        return check_token(creds, header)
    except APIError:
        if basic_ok:
            return check_basic(creds, header)
        raise
