"""The strict JSON loader: what it refuses, and that it refuses it with ``UnsafeJson`` only."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.exceptions import UnsafeJson
from handoff.strict_json import MAX_INT_DIGITS, MAX_NESTING, load_json

LIMIT = 16_384


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "ping"}', {"type": "ping"}),
        (b'{"type": "ping"}', {"type": "ping"}),
        ('{"n": -9223372036854775808, "x": 1.5e3}', {"n": -(2**63), "x": 1500.0}),
        ('{"s": "[[[[[[[[[[{{{{{{{{{{"}', {"s": "[[[[[[[[[[{{{{{{{{{{"}),  # text, not nesting
        ('{"s": "a \\" [[[[[[[[[[ \\\\"}', {"s": 'a " [[[[[[[[[[ \\'}),
        ('{"emoji": "\\ud83d\\ude00"}', {"emoji": "\U0001f600"}),  # a surrogate pair is fine
        ("[" * MAX_NESTING + "]" * MAX_NESTING, [[[[[[[[]]]]]]]]),
        ('{"n": ' + "9" * MAX_INT_DIGITS + "}", {"n": int("9" * MAX_INT_DIGITS)}),
        ('{"eur": "\u20ac"}', {"eur": "\u20ac"}),
    ],
    ids=[
        "object", "bytes", "numbers", "brackets-in-a-string", "escaped-quotes", "surrogate-pair",
        "deepest-allowed", "longest-int", "utf8",
    ],
)  # fmt: skip
def test_well_formed_json_is_loaded(raw: str | bytes, expected: Any) -> None:
    assert load_json(raw, max_bytes=LIMIT) == expected


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("[" * 990 + "]" * 990, "nested deeper than 8"),
        ('{"a": ' * 1_000, "nested deeper than 8"),  # never parsed, however unfinished
        ("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1), "nested deeper than 8"),
        ('{"handoff_id": ' + "1" * 4_301 + "}", "integer of 4301 digits"),
        ('{"n": -' + "1" * (MAX_INT_DIGITS + 1) + "}", f"integer of {MAX_INT_DIGITS + 1} digits"),
        ('{"x": NaN}', "NaN is not a JSON number"),
        ('{"x": Infinity}', "Infinity is not a JSON number"),
        ('{"x": -Infinity}', "-Infinity is not a JSON number"),
        ('{"x": 1e400}', "1e400 is out of range"),
        ('{"x": "ana\\ud800"}', "lone surrogate (\\ud800)"),
        ('{"ana\\udfff": 1}', "lone surrogate (\\udfff)"),
        ('{"x": ["ok", {"y": "\\udc00"}]}', "lone surrogate (\\udc00)"),
        ('{"x": "\ud800"}', "lone surrogate"),  # a raw surrogate in the text itself
        ("x" * (LIMIT + 1), f"over the {LIMIT} limit"),
        ('{"x": "' + "\u20ac" * (LIMIT // 3) + '"}', f"over the {LIMIT} limit"),
        (b'{"x": "\xff"}', "not UTF-8"),
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
    ],
    ids=[
        "deep-nesting", "deep-unterminated", "one-too-deep", "huge-int", "long-negative-int",
        "nan", "infinity", "minus-infinity", "float-overflow", "lone-surrogate",
        "surrogate-in-a-key", "surrogate-nested", "raw-surrogate", "oversized",
        "oversized-in-bytes", "not-utf8", "not-json", "empty",
    ],
)  # fmt: skip
def test_hostile_json_is_refused_saying_what_to_send(raw: str | bytes, says: str) -> None:
    with pytest.raises(UnsafeJson) as refused:
        load_json(raw, max_bytes=LIMIT)
    assert says in str(refused.value)
    assert "send" in str(refused.value)


def test_without_a_size_limit_only_the_size_check_is_skipped() -> None:
    assert load_json('{"x": "' + "y" * (LIMIT * 2) + '"}', max_bytes=None)["x"] == "y" * LIMIT * 2
    with pytest.raises(UnsafeJson, match="nested deeper"):
        load_json("[" * 5_000 + "]" * 5_000, max_bytes=None)


def test_the_refusal_is_a_value_error_for_callers_that_expect_one() -> None:
    with pytest.raises(ValueError):
        load_json('{"x": NaN}', max_bytes=LIMIT)
