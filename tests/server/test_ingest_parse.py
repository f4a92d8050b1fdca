"""Request bodies parsed with orjson refuse exactly what the stdlib parser refused (``hpo.server._body``).

orjson reads a document unless it holds a number that may not fit 64 bits; these cases pin that
both paths refuse NaN/Infinity, numbers beyond 64 bits, lone surrogates, invalid UTF-8 and deep
nesting, and keep every value that fits, in plain bodies and in the lines of a batch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hpo.server._body import MAX_DEPTH, parse_body
from hpo.server._errors import APIError

LINES = "application/json-lines"


def _refused(raw: bytes, ctype: str = "application/json") -> str:
    with pytest.raises(APIError) as info:
        parse_body(raw, ctype, {})
    assert info.value.code == 400
    return info.value.msg.lower()


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b'{"v": NaN}', ""),
        (b'{"v": Infinity}', ""),
        (b'{"v": -Infinity}', ""),
        (b'{"v": 1e999}', "range"),
        (b'{"v": 9223372036854775808}', "64 bits"),  # 2**63: orjson alone would keep it
        (b'{"v": 18446744073709551616}', "64 bits"),  # 2**64: orjson alone would make it a float
        (b'{"v": -9223372036854775809}', "64 bits"),
        (b'{"v": 123456789012345678901234567890}', "64 bits"),
        (b'{"v": "\\ud800"}', "surrogate"),
        (b'{"v": "x\\udfffy"}', "surrogate"),
        (b'{"\\ud800": 1}', "surrogate"),
        (b'{"v": "\\ud800", "n": 9223372036854775807}', "surrogate"),  # the exact path checks strings too
        (b'{"v": "\xff\xfe"}', "utf-8"),
        (b'{"v": "a\x01b"}', ""),
        (b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}", "nested"),
        (b'{"a":' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}", "nested"),
        (b"{} x", ""),
    ],
)
def test_parse_body_refuses_what_cannot_be_stored(raw: bytes, needle: str) -> None:
    assert needle in _refused(raw)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b'{"v": 9223372036854775807}', 2**63 - 1),
        (b'{"v": -9223372036854775808}', -(2**63)),
        (b'{"v": 1.5e308}', 1.5e308),
        (b'{"v": 1e-400}', 0.0),
        (b'{"v": 0.12345678901234567890123}', 0.12345678901234568),
        (b'{"v": "\\ud83d\\ude00 \\u00e9"}', "\U0001f600 \u00e9"),
        ('{"v": "\u00e9t\u00e9"}'.encode(), "\u00e9t\u00e9"),
    ],
)
def test_parse_body_keeps_what_fits(raw: bytes, value: Any) -> None:
    body, lines = parse_body(raw, "application/json", {})
    assert lines is None and body == {"v": value}


def test_batch_lines_refuse_a_big_number_in_any_line() -> None:
    good = [json.dumps({"type": "log", "iter": i}).encode() for i in range(50)]
    assert "64 bits" in _refused(b"\n".join([*good, b'{"iter": 9223372036854775808}', *good]), LINES)
    assert "surrogate" in _refused(b"\n".join([*good, b'{"msg": "\\udc00"}']), LINES)


def test_batch_lines_parse_alike_on_both_paths() -> None:
    lines = [{"type": "training_stats_scalar", "iter": i, "value": i / 3, "msg": "\u00e9\U0001f600"} for i in range(20)]
    raw = "\n".join(json.dumps(line) for line in lines).encode()
    exact = raw + b'\n{"iter": 9223372036854775807}'  # a 19-digit integer: that line takes the exact path
    assert parse_body(raw, LINES, {})[1] == lines
    assert parse_body(exact, LINES, {})[1] == [*lines, {"iter": 2**63 - 1}]
