"""Workers, as ClearML Server's ``bll/workers``: a worker is listed while it reports within its timeout.

Workers live in process memory (``Runtime.workers``, as ClearML keeps them in Redis, not in the
database); each entry has ``seen`` (seconds since the epoch of its last call) and the
``timeout`` it registered with.
"""

from __future__ import annotations

from typing import Any

Data = dict[str, Any]

DEFAULT_TIMEOUT_S = 600  # ClearML's default: a worker silent this long is dropped from the list


def expired(worker: Data, now: float) -> bool:
    """Whether ``worker`` stayed silent longer than its registration timeout."""
    return now - float(worker["seen"]) > float(worker.get("timeout") or DEFAULT_TIMEOUT_S)
