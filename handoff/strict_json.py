"""Strict JSON for what clients send: websocket frames and REST bodies.

Python's :func:`json.loads` accepts more than the service can keep or answer: it recurses once
per nesting level (a frame of ``[`` * 990 raises ``RecursionError``), reads ``NaN`` and
``Infinity`` (which no JSON encoder writes back), parses integers of any length until Python's
digit limit raises ``ValueError``, and decodes ``"\\ud800"`` to a lone surrogate that no UTF-8
encoder, database or response can carry. :func:`load_json` refuses all of these, cheapest
check first, with :class:`~handoff.exceptions.UnsafeJson` saying what to send instead; it never
raises anything else.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from handoff.exceptions import UnsafeJson

__all__ = ["MAX_INT_DIGITS", "MAX_NESTING", "load_json"]

MAX_NESTING = 8
"""The deepest nesting of arrays and objects accepted (a frame or a body is one flat object)."""
MAX_INT_DIGITS = 20
"""Digits of the longest integer accepted: every 64-bit integer fits."""

# A JSON string, escapes included; what is left outside the strings is structure and numbers.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def load_json(raw: str | bytes, *, max_bytes: int | None, max_nesting: int = MAX_NESTING) -> Any:
    """The JSON value of ``raw`` (UTF-8 when bytes), refused with :class:`UnsafeJson` when it
    is over ``max_bytes`` (``None``: the caller bounded it already), nested deeper than
    ``max_nesting``, not valid JSON, or holds NaN, Infinity, an integer of more than
    :data:`MAX_INT_DIGITS` digits, a number out of float range or a lone surrogate."""
    if max_bytes is not None:
        _check_size(raw, max_bytes)
    text = _text(raw)
    _check_nesting(text, max_nesting)
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float
        )
    except json.JSONDecodeError as exc:
        raise UnsafeJson(f"not valid JSON ({exc}); send one JSON value") from None
    _check_strings(value)
    return value


def _check_size(raw: str | bytes, max_bytes: int) -> None:
    # Measured in UTF-8 bytes, as it travelled. Characters never outnumber bytes, so a string
    # longer than the limit is refused without encoding it.
    size = len(raw)
    if isinstance(raw, str) and size <= max_bytes:
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise UnsafeJson(
            f"{size} bytes of JSON is over the {max_bytes} limit; send at most {max_bytes} bytes"
        )


def _text(raw: str | bytes) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeJson(f"not UTF-8 ({exc.reason} at byte {exc.start}); send UTF-8 text") from None


def _check_nesting(text: str, max_nesting: int) -> None:
    # Counted on the text before parsing, so nothing recurses however deep the input goes.
    # Brackets inside strings are not structure: the strings are cut out first.
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > max_nesting:
            raise UnsafeJson(f"JSON nested deeper than {max_nesting} levels; send a flatter object")


def _refuse_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number; send a finite number or null")


def _bounded_int(digits: str) -> int:
    # Checked before int() runs: Python's own limit (4,300 digits) raises a bare ValueError.
    count = len(digits.lstrip("-"))
    if count > MAX_INT_DIGITS:
        raise UnsafeJson(
            f"an integer of {count} digits is too long; send at most {MAX_INT_DIGITS} digits"
        )
    return int(digits)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e400 parses as infinity
        shown = literal if len(literal) <= 24 else literal[:21] + "..."
        raise UnsafeJson(f"the number {shown} is out of range; send a finite number")
    return value


def _check_strings(value: Any) -> None:
    # Walked with a stack, not recursion (the nesting is bounded already, but no need).
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            _check_unicode(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code_point = ord(text[exc.start])
        raise UnsafeJson(
            f"a string holds a lone surrogate (\\u{code_point:04x}), which is not Unicode text; "
            "send valid UTF-8 (a character outside the BMP as a surrogate pair)"
        ) from None
