"""Document collections with an in-memory cache and staged, atomic writes.

The server process is the only writer of its database, so every collection is loaded into
memory once and queried there; writes are staged during a request and reach SQLite and the
cache together in :meth:`Store.commit`, or not at all (:meth:`Store.rollback`). A request that
fails half-way therefore leaves nothing half-written.

Documents handed out by :meth:`Collection.get` are shared with the cache: callers must not
mutate them, they copy and :meth:`Collection.put` instead.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from typing import Any

import orjson

from hpo.server.store._db import Database
from hpo.server.store._events import Events

Doc = dict[str, Any]

COLLECTIONS = ("tasks", "projects", "models", "queues", "users")

# Top-level fields with an equality index, for the filters that get_all sees on large collections.
INDEXED = {"tasks": ("project",), "models": ("project",)}

_DELETED = object()


def _dumps(doc: object) -> str:
    """A document's JSON: orjson (a task rewritten by every events.add_batch: ~7x faster), else json's.

    Documents never hold NaN or infinities (request bodies refuse them; orjson would write null);
    what orjson refuses (a lone surrogate, an integer beyond 64 bits) is written as json writes it.
    """
    try:
        return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(doc, separators=(",", ":"))


class Collection:
    """One kind of document (tasks, models, ...)."""

    def __init__(self, store: Store, name: str, docs: dict[str, Doc]) -> None:
        self.name = name
        self._store = store
        self._docs = docs
        self._indexes: dict[str, dict[Any, set[str]]] = {field: {} for field in INDEXED.get(name, ())}
        for doc_id, doc in docs.items():
            self._index_add(doc_id, doc)

    def indexed(self, field: str) -> bool:
        return field in self._indexes

    def where(self, field: str, values: list[Any]) -> list[Doc]:
        """Documents whose indexed ``field`` equals one of ``values``."""
        wanted = set(values)
        index = self._indexes[field]
        staged = self._store.staged_for(self.name)
        docs = self._docs
        found = [docs[doc_id] for value in wanted for doc_id in index.get(value, ()) if doc_id not in staged]
        for doc in staged.values():
            if doc is not _DELETED and doc.get(field) in wanted:  # type: ignore[attr-defined]
                found.append(doc)  # type: ignore[arg-type]
        return found

    def _index_add(self, doc_id: str, doc: Doc) -> None:
        for field, index in self._indexes.items():
            index.setdefault(doc.get(field), set()).add(doc_id)

    def _index_remove(self, doc_id: str) -> None:
        old = self._docs.get(doc_id)
        if old is None:
            return
        for field, index in self._indexes.items():
            ids = index.get(old.get(field))
            if ids is not None:
                ids.discard(doc_id)

    def get(self, doc_id: str) -> Doc | None:
        staged = self._store.staged(self.name, doc_id)
        if staged is _DELETED:
            return None
        if staged is not None:
            return staged  # type: ignore[return-value]
        return self._docs.get(doc_id)

    def editable(self, doc_id: str) -> Doc | None:
        """A private deep copy of a document, to change and :meth:`put` back."""
        doc = self.get(doc_id)
        return copy.deepcopy(doc) if doc is not None else None

    def editable_fields(self, doc_id: str, fields: tuple[str, ...]) -> Doc | None:
        """A copy of a document in which only its top level and the dicts ``fields`` may be changed.

        The document and each of ``fields`` are copied one level deep; everything below is shared
        with the cache and must be replaced, never changed in place. A hot path that changes a
        few fields (``events.add_batch``) so need not deep-copy a whole task on every request.
        """
        doc = self.get(doc_id)
        if doc is None:
            return None
        copied = dict(doc)
        for field in fields:
            if isinstance(copied.get(field), dict):
                copied[field] = dict(copied[field])
        return copied

    def put(self, doc: Doc) -> None:
        self._store.stage(self.name, doc["id"], doc)

    def delete(self, doc_id: str) -> None:
        self._store.stage(self.name, doc_id, _DELETED)

    def __iter__(self) -> Iterator[Doc]:
        staged = self._store.staged_for(self.name)
        for doc_id, doc in self._docs.items():
            if doc_id not in staged:
                yield doc
        for value in staged.values():
            if value is not _DELETED:
                yield value  # type: ignore[misc]

    def _apply(self, doc_id: str, value: object) -> None:
        self._index_remove(doc_id)
        if value is _DELETED:
            self._docs.pop(doc_id, None)
        else:
            self._docs[doc_id] = value  # type: ignore[assignment]
            self._index_add(doc_id, value)  # type: ignore[arg-type]


class Store:
    """All collections of one data directory, plus the events table.

    Thread-safety: single-threaded by design: the server serialises requests on its event loop.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._staged: dict[str, dict[str, object]] = {name: {} for name in COLLECTIONS}
        self._pending_sql: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._collections = {name: Collection(self, name, db.load_collection(name)) for name in COLLECTIONS}
        self.events = Events(self)

    @property
    def tasks(self) -> Collection:
        return self._collections["tasks"]

    @property
    def projects(self) -> Collection:
        return self._collections["projects"]

    @property
    def models(self) -> Collection:
        return self._collections["models"]

    @property
    def queues(self) -> Collection:
        return self._collections["queues"]

    @property
    def users(self) -> Collection:
        return self._collections["users"]

    def staged(self, collection: str, doc_id: str) -> object:
        return self._staged[collection].get(doc_id)

    def staged_for(self, collection: str) -> dict[str, object]:
        return self._staged[collection]

    def stage(self, collection: str, doc_id: str, value: object) -> None:
        self._staged[collection][doc_id] = value

    def stage_sql(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Stage a statement on the store's own tables (:class:`Events`) to run inside the next commit."""
        self._pending_sql.append((sql, rows))

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Drop what the block staged when it raises, keep what was staged before (one item of a batch call)."""
        before = {name: dict(changes) for name, changes in self._staged.items()}
        pending = len(self._pending_sql)
        try:
            yield
        except BaseException:
            for name, changes in self._staged.items():
                changes.clear()
                changes.update(before[name])
            del self._pending_sql[pending:]
            raise

    def commit(self) -> None:
        """Write every staged change in one SQLite transaction, then publish it to the cache."""
        if not self._pending_sql and not any(self._staged.values()):
            return
        with self.db.transaction() as conn:
            for name, changes in self._staged.items():
                for doc_id, value in changes.items():
                    if value is _DELETED:
                        conn.execute("DELETE FROM docs WHERE collection = ? AND id = ?", (name, doc_id))
                    else:
                        conn.execute(
                            "INSERT OR REPLACE INTO docs (collection, id, body) VALUES (?, ?, ?)",
                            (name, doc_id, _dumps(value)),
                        )
            for sql, rows in self._pending_sql:
                conn.executemany(sql, rows)
        for name, changes in self._staged.items():
            for doc_id, value in changes.items():
                self._collections[name]._apply(doc_id, value)
        self.rollback()

    def rollback(self) -> None:
        for changes in self._staged.values():
            changes.clear()
        self._pending_sql.clear()
