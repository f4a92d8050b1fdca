"""Helpers shared by the route modules: lookups that fail the ClearML way, and ownership fields."""

from __future__ import annotations

from typing import Any

from hpo.server._errors import APIError, invalid_id
from hpo.server._router import Call, Data, now_iso
from hpo.server.store import Collection


def require(collection: Collection, kind: str, doc_id: Any) -> Data:
    """The document with this id, or ClearML's "invalid <kind> id" error."""
    if not isinstance(doc_id, str) or not doc_id:
        raise invalid_id(kind, doc_id)
    doc = collection.get(doc_id)
    if doc is None:
        raise invalid_id(kind, doc_id)
    return doc


def editable(collection: Collection, kind: str, doc_id: Any) -> Data:
    require(collection, kind, doc_id)
    doc = collection.editable(doc_id)
    assert doc is not None
    return doc


def owner_fields(call: Call) -> Data:
    now = now_iso()
    return {"user": call.identity.user, "company": call.identity.company, "created": now, "last_update": now}


def updated(fields: Data | None = None, count: int = 1) -> Data:
    return {"updated": count, "fields": fields or {}}


def tag_list(call: Call, name: str) -> list[str]:
    values = call.items(name)
    if not all(isinstance(v, str) for v in values):
        raise APIError(400, 12, f"Validation error: '{name}' must be a list of strings")
    return list(dict.fromkeys(values))


def ids_of(call: Call, single: str, plural: str) -> list[str]:
    """Ids from a body that names one (``task``) or many (``ids``/``tasks``)."""
    many = call.items(plural)
    one = call.body.get(single)
    ids = [*many, *([one] if one else [])]
    if not ids:
        raise APIError(400, 11, f"Validation error: missing required field '{single}' or '{plural}'")
    return [str(i) for i in ids]
