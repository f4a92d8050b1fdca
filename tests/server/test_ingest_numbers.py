"""Which bodies take the exact (stdlib) parser: only those with an integer that may not fit 64 bits.

``hpo.server._body`` parses with orjson unless a body holds a long run of integer digits or a
3-digit exponent. A long run of fraction digits (``0.00012345678901234567``: small losses and
learning rates print so) is a float to both parsers and keeps orjson; in a batch, only the lines
that hold a long integer take the exact parser. These pin that choice and that both parsers read
every kind of float alike.
"""

from __future__ import annotations

import json
import random

import pytest

from hpo.server._body import _loads, _needs_exact, parse_body
from hpo.server._errors import APIError

LINES = "application/json-lines"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v": 0.00012345678901234567}',
        b'{"v": -0.0000000000000000000000000001}',
        b'{"v": [0.1234567890123456789012, 0.00000000000000000000123]}',
        b'{"v": 922337203685477580}',  # 18 digits
    ],
)
def test_long_fractions_keep_the_fast_parser(raw: bytes) -> None:
    assert not _needs_exact(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v": 9223372036854775808}',
        b'{"v": -9223372036854775809}',
        b'{"v": [0.00000000000000000000001, 12345678901234567890]}',  # after a long fraction
        b'{"v": 0.000000000000000000001, "w": 1e400}',
        b'{"v": 1.5E+308}',
        b'{"v": "id-1234567890123456789"}',  # digits in a string: exact too (never wrong, only slower)
        b'{"v": 1234567890123456789.5}',  # 19 integer digits of a float: exact too
        b"12345678901234567890",
    ],
)
def test_long_integers_and_exponents_take_the_exact_parser(raw: bytes) -> None:
    assert _needs_exact(raw)


def test_floats_of_every_magnitude_parse_alike_on_both_paths() -> None:
    rng = random.Random(18)
    values = [rng.random() * 10.0 ** rng.randint(-30, 30) * rng.choice((1, -1)) for _ in range(3000)]
    values += [0.1 + 0.2, 1 / 3, 2.0**-1074, 1.7976931348623157e308, 5e-324, -0.0]
    for value in values:
        raw = json.dumps({"value": value}).encode()
        assert _loads(raw, exact=False) == _loads(raw, exact=True) == {"value": value}


def test_a_batch_of_small_losses_parses_as_sent_and_still_refuses_a_big_integer() -> None:
    rng = random.Random(3)
    lines = [{"type": "training_stats_scalar", "iter": i, "value": rng.random() * 0.01} for i in range(500)]
    raw = "\n".join(json.dumps(line) for line in lines).encode()
    assert parse_body(raw, LINES, {})[1] == lines
    with pytest.raises(APIError) as info:
        parse_body(raw + b'\n{"iter": 18446744073709551616}', LINES, {})
    assert "64 bits" in info.value.msg
    kept = parse_body(raw + b'\n{"iter": 9223372036854775807}', LINES, {})[1]
    assert kept == [*lines, {"iter": 2**63 - 1}]
