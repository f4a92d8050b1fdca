"""Reading and parsing request bodies safely: bounded size and time, and only storable JSON.

Every API body passes :func:`read_body` (a size cap, checked against ``Content-Length`` before
anything is read and again while streaming, and a time limit per chunk so a client that promises
more than it sends is dropped) and :func:`parse_body`, which accepts only what the store can
serve back to every client:

- valid UTF-8, and no lone surrogate (``"\\ud800"``) in any string or key;
- no ``NaN``/``Infinity`` (not JSON; a stored one makes every listing fail) and no number beyond
  64 bits (``1e999``, ``2**63``: SQLite and ClearML's MongoDB cannot hold them);
- nesting at most :data:`MAX_DEPTH` deep (a deep value breaks copying and serialising it later).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from hpo.server._errors import APIError, bad_json

Data = dict[str, Any]

MAX_DEPTH = 64
_INT64 = 2**63
# orjson refuses what the module docstring refuses, but reads an integer beyond 64 bits as a float.
# Only a long digit run or a 3-digit exponent can overflow 64 bits: a document that holds one (a
# cheap scan, in C, of its bytes) goes to the stdlib parser, which checks every number exactly and,
# where a \u escape could carry one, every string for a lone surrogate. A run of digits after a
# decimal point is a fraction (``0.00012345678901234567``, a loss or a learning rate), which
# both parsers read alike: it does not count.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_CANON = bytes.maketrans(b"123456789E", b"000000000e")
_BIG_EXPONENT = (b"e000", b"e+000")  # in canonical bytes: digits as 0, E as e
_LONG_RUN = b"0" * 19
_ZEROS = re.compile(rb"0*")
_DOT = ord(".")


def too_large(limit: int, got: int | None = None) -> APIError:
    size = f" ({got} bytes)" if got is not None else ""
    return APIError(413, 0, f"Request body too large{size}: this endpoint takes at most {limit} bytes")


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, refusing one over ``limit`` bytes (413) or one that stalls (408).

    Raises:
        APIError: 413 when the body is (or is announced as) larger than ``limit``; 408 when no
            chunk arrives for ``timeout_s`` (a client that sent less than its Content-Length).
    """
    announced = request.headers.get("content-length")
    if announced is not None:
        try:
            size = int(announced)
        except ValueError:
            raise APIError(400, 12, f"Invalid Content-Length header: {announced!r}") from None
        if size > limit:
            raise too_large(limit, size)
    chunks: list[bytes] = []
    total = 0
    async for chunk in timed_stream(request, timeout_s):
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def timed_stream(request: Request, timeout_s: float) -> AsyncGenerator[bytes, None]:
    """The request body chunk by chunk, failing with 408 when a chunk takes longer than ``timeout_s``.

    Raises:
        APIError: 408 on a stall; 400 when the client disconnects mid-body.
    """
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout_s)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise APIError(408, 0, f"Request body incomplete: nothing arrived for {timeout_s:g} s") from None
        except ClientDisconnect:
            raise APIError(400, 12, "Request body incomplete: the client disconnected") from None
        yield chunk


def _reject_constant(name: str) -> Any:
    raise bad_json(f"{name} is not a number JSON allows; send a finite number or null")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise bad_json(f"number {text[:40]} is out of range; send a finite 64-bit float")
    return value


def _int64(text: str) -> int:
    if len(text) > 20:
        raise bad_json(f"integer {text[:24]}... is out of range; integers must fit in 64 bits")
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise bad_json(f"integer {text} is out of range; integers must fit in 64 bits")
    return value


_CHECKING_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite, parse_int=_int64)


def _depth(value: Any) -> int:
    """How deep ``value`` nests (a scalar is 0, ``[]`` is 1)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _check_strings(value: Any) -> None:
    """Raise on a lone surrogate anywhere in ``value`` (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            texts: list[str] = [item]
        elif isinstance(item, dict):
            texts = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in texts:
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as err:
                    raise bad_json(
                        f"string {text[max(0, err.start - 10) : err.start + 10]!r} holds a lone surrogate"
                        f" (\\u{ord(text[err.start]):04x}); send valid Unicode"
                    ) from None


def _needs_exact(raw: bytes) -> bool:
    """Whether ``raw`` holds a number that may not fit 64 bits (a long run of integer digits, a 3-digit exponent)."""
    canonical = raw.translate(_CANON)
    if any(big in canonical for big in _BIG_EXPONENT):
        return True
    start = canonical.find(_LONG_RUN)
    while start >= 0:  # each run of 19 digits or more, from its first digit
        if start == 0 or canonical[start - 1] != _DOT:
            return True  # not a fraction's digits
        run = _ZEROS.match(canonical, start)  # always matches: ``0*`` matches the empty string too
        start = canonical.find(_LONG_RUN, run.end() if run else start + 1)
    return False


def _loads(raw: bytes, exact: bool | None = None) -> Any:
    """One JSON document, checked as the module docstring says.

    orjson parses it (and refuses ``NaN``/``Infinity``, invalid UTF-8 and lone surrogates itself),
    unless it holds a number that may not fit 64 bits: orjson would read it as a float, so the
    stdlib parser, which checks every number exactly, reads that document.

    Args:
        raw: The document.
        exact: Whether to use the exact parser; None scans ``raw`` to decide.
    """
    if exact is None:
        exact = _needs_exact(raw)
    if exact:
        value = _loads_exact(raw)
    else:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise bad_json(_orjson_problem(str(err))) from None
    # brackets inside strings count too, so this only ever walks more often than needed
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise bad_json(f"nested more than {MAX_DEPTH} levels deep; flatten the value")
    return value


def _orjson_problem(message: str) -> str:
    if "depth limit" in message:
        return f"nested far deeper than {MAX_DEPTH} levels"
    if "UTF-8" in message:
        return f"not valid UTF-8 ({message}); send UTF-8 text"
    if "surrogate" in message:
        return f"a string holds a lone surrogate ({message}); send valid Unicode"
    return message


def _loads_exact(raw: bytes) -> Any:
    """One JSON document through the stdlib parser, every number checked to fit 64 bits."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise bad_json(f"not valid UTF-8 at byte {err.start}; send UTF-8 text") from None
    try:
        value = _CHECKING_DECODER.decode(text)
    except RecursionError:
        raise bad_json(f"nested far deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:
        raise bad_json(str(err)) from err
    if b"\\u" in raw and _SURROGATE_ESCAPE.search(raw):
        _check_strings(value)
    return value


def parse_body(raw: bytes, content_type: str, query: Data) -> tuple[Data, list[Data] | None]:
    """Parse a JSON (or JSON lines) body into the call's fields and, for a batch, its lines.

    CPU-bound on large bodies: the transport runs it off the event loop.

    Raises:
        APIError: 400 for anything that is not storable JSON (see the module docstring).
    """
    if not raw.strip():
        return query, None
    if "json-lines" in content_type or "jsonlines" in content_type:
        exact = None if _needs_exact(raw) else False  # where the batch holds a long number, each line decides
        lines = [_loads(line, exact) for line in raw.splitlines() if line.strip()]
        if not all(isinstance(item, dict) for item in lines):
            raise bad_json("every line must be a JSON object")
        return query, lines
    body = _loads(raw)
    if isinstance(body, list):
        if not all(isinstance(item, dict) for item in body):
            raise bad_json("a list body must hold JSON objects")
        return query, body
    if not isinstance(body, dict):
        raise bad_json(f"expected a JSON object, got {type(body).__name__}")
    return {**query, **body}, None
