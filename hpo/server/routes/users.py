"""``users.*``: the embedded server has one user, the owner of the data directory."""

from __future__ import annotations

from hpo.server._auth import COMPANY_ID, USER_ID, USER_NAME
from hpo.server._router import Call, Data, Router

router = Router()

_USER: Data = {
    "id": USER_ID,
    "name": USER_NAME,
    "given_name": USER_NAME,
    "family_name": "",
    "company": {"id": COMPANY_ID, "name": "clearml-hpo"},
    "role": "admin",
    "preferences": {},
}


@router.endpoint("users.get_current_user")
def current_user(call: Call) -> Data:
    return {"user": _USER, "getting_started": {}, "settings": {"max_download_items": 1000}}


@router.endpoint("users.get_all", "users.get_all_ex")
def get_all(call: Call) -> Data:
    return {"users": [_USER]}


@router.endpoint("users.get_by_id")
def get_by_id(call: Call) -> Data:
    return {"user": _USER}


@router.endpoint("users.get_preferences")
def preferences(call: Call) -> Data:
    return {"preferences": {}}
