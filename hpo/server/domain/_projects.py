"""The project tree, as ClearML Server's ``bll/project``: projects named by path (``a/b``).

Every project keeps its ancestors' ids in ``path`` (root first) and its parent's in ``parent``;
parents are created implicitly. A project whose name starts with ``.`` (datasets live in
``P/.datasets/NAME``), or whose parent is hidden, is hidden (system tag ``hidden``).
"""

from __future__ import annotations

from typing import Any

from hpo.server._errors import validation
from hpo.server._router import new_id
from hpo.server.store import Store

Data = dict[str, Any]


def project_by_name(store: Store, name: str) -> Data | None:
    """The project with this full path, if any."""
    return next((p for p in store.projects if p["name"] == name), None)


def ensure_project(store: Store, name: str, owner: Data, extra: Data | None = None) -> Data:
    """The project with this full path, created with its missing parents.

    Args:
        store: Where to find or stage it.
        name: Its full path; whitespace around each part is dropped.
        owner: ``user``, ``company``, ``created`` and ``last_update`` of each project created.
        extra: Fields of the project itself when it is created (not of its parents).

    Raises:
        APIError: The path has an empty part (400, 12).
    """
    name = "/".join(part.strip() for part in name.split("/"))
    if not name or any(not part for part in name.split("/")):
        raise validation(f"invalid project name {name!r}: use non-empty parts separated by '/'")
    existing = project_by_name(store, name)
    if existing is not None:
        return existing
    parent_name, _, basename = name.rpartition("/")
    parent = ensure_project(store, parent_name, owner) if parent_name else None
    hidden = basename.startswith(".") or (parent is not None and "hidden" in parent.get("system_tags", []))
    doc: Data = {
        "id": new_id(),
        "name": name,
        "basename": basename,
        "description": "",
        "tags": [],
        "system_tags": ["hidden"] if hidden else [],
        "default_output_destination": None,
        "parent": parent["id"] if parent else None,
        "path": [*(parent.get("path", []) if parent else []), *([parent["id"]] if parent else [])],
        **owner,
    }
    doc.update(extra or {})
    store.projects.put(doc)
    return doc


def descendants(store: Store, project_ids: list[str]) -> list[str]:
    """The given projects plus all their sub-projects."""
    wanted = set(project_ids)
    return [p["id"] for p in store.projects if p["id"] in wanted or wanted & set(p.get("path", []))]
