"""``auth.*`` and the service endpoints clients probe before logging in."""

from __future__ import annotations

from hpo.server._auth import TOKEN_LIFETIME_S, issue_token
from hpo.server._config import API_VERSION, SERVER_VERSION
from hpo.server._router import Call, Data, Router

router = Router()


@router.endpoint("auth.login")
def login(call: Call) -> Data:
    return {"token": issue_token(call.runtime.credentials)}


@router.endpoint("auth.validate_token")
def validate_token(call: Call) -> Data:
    return {"valid": True, "user": call.identity.user, "company": call.identity.company}


@router.endpoint("debug.ping")
def ping(call: Call) -> Data:
    return {"msg": "ClearML server (clearml-hpo embedded)"}


@router.endpoint("server.info")
def info(call: Call) -> Data:
    return {
        "version": SERVER_VERSION,
        "api_version": API_VERSION,
        "server": "clearml-hpo embedded",
        "token_lifetime_s": TOKEN_LIFETIME_S,
    }
