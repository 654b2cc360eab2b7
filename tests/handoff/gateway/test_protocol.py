"""The customer protocol's parsers, without a socket: strict JSON, strict fields."""

from __future__ import annotations

import pytest

from handoff.gateway.protocol import (
    MAX_STORED_INT,
    CloseCode,
    ProtocolViolation,
    parse_conversation_frame,
    parse_opening,
)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"type": "read", "seq": "3"}', "valid integer (got a string)"),
        ('{"type": "read", "seq": false}', "valid integer (got false)"),
        ('{"type": "read", "seq": 3.0}', "valid integer (got a number)"),
        ('{"type": "read", "seq": null}', "valid integer (got null)"),
        ('{"type": "read", "seq": [3]}', "(got an array)"),
        (f'{{"type": "read", "seq": {MAX_STORED_INT + 1}}}', f"or equal to {MAX_STORED_INT}"),
        ('{"type": "ping", "x": NaN}', "frame refused: NaN is not a JSON number"),
        ("[" * 990 + "]" * 990, "frame refused: JSON nested deeper than 8 levels"),
    ],
    ids=[
        "string", "bool", "float", "null", "array", "out-of-range", "nan", "deep",
    ],
)  # fmt: skip
def test_a_conversation_frame_is_read_strictly(raw: str, says: str) -> None:
    with pytest.raises(ProtocolViolation) as refused:
        parse_conversation_frame(raw)
    assert says in str(refused.value)
    assert refused.value.close_code == CloseCode.PROTOCOL_ERROR


RESUME_FROM = '{{"type": "resume", "v": 1, "resume_token": "t", "last_seq": {last_seq}}}'


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "start", "v": "1"}', CloseCode.PROTOCOL_ERROR),
        ('{"type": "start", "v": true}', CloseCode.PROTOCOL_ERROR),
        ('{"type": "start", "v": 1.0}', CloseCode.PROTOCOL_ERROR),
        (RESUME_FROM.format(last_seq='"0"'), CloseCode.PROTOCOL_ERROR),
        (RESUME_FROM.format(last_seq=MAX_STORED_INT + 1), CloseCode.PROTOCOL_ERROR),
    ],
    ids=[
        "string-version", "bool-version", "float-version", "string-last-seq",
        "out-of-range-last-seq",
    ],
)  # fmt: skip
def test_an_opening_is_read_strictly(raw: str, code: int) -> None:
    with pytest.raises(ProtocolViolation) as refused:
        parse_opening(raw)
    assert refused.value.close_code == code
