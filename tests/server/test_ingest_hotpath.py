"""``events.add_batch``'s hot path: copies only what it changes, verifies a token once while it is valid.

The store hands out documents shared with its cache (``hpo.server.store._documents``); a batch
changes its task through :meth:`Collection.editable_fields` (a one-level copy) and
``fold_scalars`` (all the batch's scalars in one call, copy on write below ``last_metrics``)
instead of a deep copy of the whole task. These pin that a rolled-back request leaves the cached
task as it was, that ``last_metrics`` folded that way equals the deep-copy fold event by event,
and that a token kept as verified (``hpo.server._auth``: its signature is not checked on every
call) is still refused once expired; and that documents, written with orjson (json where orjson
refuses), read back as they were put.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from hpo.server import domain
from hpo.server._auth import API_PURPOSE, Credentials, Identity, check_token
from hpo.server._errors import APIError
from hpo.server.store import Database, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Database(tmp_path / "server.db")
    yield Store(db)
    db.close()


def _scalars(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"metric": rng.choice(["train", "val"]), "variant": f"s{rng.randrange(4)}", "iter": rng.randrange(50),
         "value": rng.uniform(-5, 5), "timestamp": i}
        for i in range(n)
    ]  # fmt: skip


def _fold_deep(task: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The reference: fold into a deep copy one event at a time, as add_batch did before."""
    task = copy.deepcopy(task)
    for event in events:
        domain.update_last_metrics(task, event, float(event["value"]))
    return task


def _batch(store: Store, events: list[dict[str, Any]]) -> dict[str, Any]:
    doc = store.tasks.editable_fields("t", ("last_metrics",))
    assert doc is not None
    domain.fold_scalars(doc, [(event, float(event["value"])) for event in events])
    store.tasks.put(doc)
    return doc


def test_rolled_back_batch_leaves_the_cached_task_unchanged(store: Store) -> None:
    store.tasks.put({"id": "t", "name": "n", "execution": {"parameters": {"a": 1}}})
    _batch(store, _scalars(40, seed=1))
    store.commit()
    before = copy.deepcopy(store.tasks.get("t"))
    _batch(store, _scalars(40, seed=2))  # touches series the first batch created
    store.rollback()
    assert store.tasks.get("t") == before


def test_last_metrics_folded_copy_on_write_equal_the_deep_copy_fold(store: Store) -> None:
    store.tasks.put({"id": "t", "name": "n"})
    store.commit()
    expected: dict[str, Any] = {"id": "t", "name": "n"}
    for seed in range(5):
        events = _scalars(30, seed)
        expected = _fold_deep(expected, events)
        _batch(store, events)
        store.commit()
        assert store.tasks.get("t") == expected
    reopened = Store(store.db)  # what was committed, read back from SQLite
    assert reopened.tasks.get("t") == expected


def _token(creds: Credentials, expires_in: int) -> str:
    now = int(time.time())
    payload = {"purpose": API_PURPOSE, "identity": {"user": "u1", "company": "c1"}, "iat": now, "exp": now + expires_in}
    return jwt.encode(payload, creds.token_secret, algorithm="HS256")


def test_a_verified_token_is_refused_once_it_expires() -> None:
    creds = Credentials("k", "s", "secret-one-" + "x" * 32)
    token = _token(creds, expires_in=1)
    assert check_token(creds, f"Bearer {token}") == Identity("u1", "c1")
    assert check_token(creds, f"Bearer {token}") == Identity("u1", "c1")  # from the cache of verified tokens
    time.sleep(2.1)
    with pytest.raises(APIError) as err:
        check_token(creds, f"Bearer {token}")
    assert (err.value.code, err.value.subcode) == (401, 22)


def test_a_verified_token_is_refused_by_a_server_with_another_secret() -> None:
    creds = Credentials("k", "s", "secret-one-" + "x" * 32)
    token = _token(creds, expires_in=60)
    check_token(creds, f"Bearer {token}")
    with pytest.raises(APIError) as err:
        check_token(Credentials("k", "s", "secret-two-" + "x" * 32), f"Bearer {token}")
    assert (err.value.code, err.value.subcode) == (401, 21)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "größe ✓", "tags": ["a"], "n": 2**63 - 1, "x": -1.5e-300},  # what orjson writes
        {"name": "lone \ud800 surrogate"},  # what orjson refuses: written as json writes it
        {"n": 2**70},
    ],
)
def test_documents_read_back_as_they_were_put(store: Store, fields: dict[str, Any]) -> None:
    store.tasks.put({"id": "t", **fields})
    store.commit()
    assert Store(store.db).tasks.get("t") == {"id": "t", **fields}
