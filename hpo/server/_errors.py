"""ClearML-style API errors.

Every failure the server reports is an :class:`APIError`: an HTTP status plus ClearML's
``result_subcode`` and a message. The HTTP status and ``meta.result_code`` are always equal,
because the SDK reads success from one and decides retries from the other.

Only 4xx codes and 500 are ever produced: the SDK retries 501, 504 and other 5xx codes
forever, so answering one would hang a client.
"""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    """An error answered to the client in ClearML's envelope.

    Args:
        code: HTTP status and ``meta.result_code``.
        subcode: ClearML's ``meta.result_subcode``.
        msg: Human readable ``meta.result_msg``.
        extra: Optional ``meta.error_data``.
    """

    def __init__(self, code: int, subcode: int, msg: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.subcode = subcode
        self.msg = msg
        self.extra = extra or {}


def invalid_endpoint(name: str) -> APIError:
    return APIError(400, 1, f"Invalid endpoint: endpoint={name} is not supported by this server")


def bad_json(detail: str) -> APIError:
    return APIError(400, 12, f"Validation error: malformed JSON body ({detail})")


def validation(msg: str) -> APIError:
    return APIError(400, 12, f"Validation error: {msg}")


def missing_field(field: str) -> APIError:
    return APIError(400, 11, f"Validation error: missing required field '{field}'")


def invalid_id(kind: str, value: Any) -> APIError:
    subcodes = {"task": 101, "model": 201, "project": 401, "queue": 701, "worker": 1001}
    return APIError(400, subcodes.get(kind, 10), f"Invalid {kind} id: id={value}")


def invalid_status(msg: str) -> APIError:
    return APIError(400, 110, f"Invalid task status: {msg}")


def unauthorized(subcode: int, msg: str) -> APIError:
    return APIError(401, subcode, f"Unauthorized: {msg}")
