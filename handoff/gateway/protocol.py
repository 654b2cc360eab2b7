"""The customer websocket protocol, version 1: the frames, parsed and refused here.

Every frame is one JSON object with a ``type``. The client speaks first (``start`` or
``resume``), then sends ``message`` frames; the server answers with ``started``/``resumed``,
``ack`` for each message it has stored, ``message`` for every transcript entry (the customer's
own included, so a resumed client can rebuild the whole conversation from ``message`` frames)
and ``error`` for a frame it refused without closing. The client may also send ``typing`` and
``read`` (for the agent's eyes, never stored); the server sends ``typing`` while the agent
types. ``docs/protocol.md`` is the reference; this module is its code.

Parsing never raises anything but :class:`ProtocolViolation`, which carries the close code and
a message that says what to send instead. Frames are read strictly: the JSON by
:func:`~handoff.strict_json.load_json` (size, nesting, NaN, long integers, lone surrogates),
then the fields without coercion (``"1"`` is not a number, ``"yes"`` not a boolean), numbers
within what the database stores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError

from handoff.exceptions import HandoffError, RateLimited, UnsafeJson
from handoff.strict_json import load_json

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 16_384
MAX_TEXT_CHARS = 2_000
MAX_CLIENT_MESSAGE_ID_CHARS = 100
MAX_STORED_INT = 2**31 - 1
"""The largest id or sequence number the store keeps (an INTEGER column on PostgreSQL too)."""

Version = Annotated[int, Strict()]
"""A protocol version: a JSON integer, never a string or a boolean."""
Seq = Annotated[int, Strict(), Field(ge=1, le=MAX_STORED_INT)]
"""A message's sequence number, as stored (1, 2, 3...)."""
StoredId = Annotated[int, Strict(), Field(ge=1, le=MAX_STORED_INT)]
"""A stored record's id (a handoff's): a JSON integer the database can hold."""


class CloseCode:
    """Websocket close codes the service uses (4000-4999 are the application's to define)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # the service is shutting down; resume later
    POLICY_VIOLATION = 1008  # the page's origin is not allowed to open the socket
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # a dependency is down, or the client reads too slowly: resume
    PROTOCOL_ERROR = 4400  # a frame that is not valid JSON or not a known frame
    IDENTITY_REJECTED = 4401  # forged, expired or malformed identity token
    UNKNOWN_CUSTOMER = 4403  # a valid token for a customer the bank does not know
    UNKNOWN_CONVERSATION = 4404  # a resume token that matches no conversation
    HANDSHAKE_TIMEOUT = 4408  # no start or resume frame in time
    CONVERSATION_CLOSED = 4410  # resuming a closed conversation
    UNSUPPORTED_VERSION = 4426


class ProtocolViolation(HandoffError):
    """A frame the service refuses; ``close_code`` says how to end the socket, if at all."""

    def __init__(self, message: str, *, close_code: int = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.close_code = close_code


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- client frames


class StartFrame(_Frame):
    """Start a new conversation, anonymously or as the customer an identity token names."""

    type: Literal["start"]
    v: Version = Field(description="Protocol version; this server speaks 1.")
    identity_token: str | None = Field(
        default=None, description="Signed by the host site (HS256 JWT); none = anonymous."
    )


class ResumeFrame(_Frame):
    """Resume a conversation after a disconnect; every message after ``last_seq`` is re-sent."""

    type: Literal["resume"]
    v: Version
    resume_token: str = Field(min_length=1, max_length=200)
    last_seq: Annotated[int, Strict()] = Field(
        ge=0, le=MAX_STORED_INT, description="The highest sequence number the client has seen."
    )


class MessageFrame(_Frame):
    """A customer message; retrying with the same ``client_message_id`` never stores it twice."""

    type: Literal["message"]
    client_message_id: str = Field(min_length=1, max_length=MAX_CLIENT_MESSAGE_ID_CHARS)
    text: str = Field(max_length=MAX_TEXT_CHARS)


class PingFrame(_Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


class CustomerTypingFrame(_Frame):
    """The customer is typing: the agent holding the conversation is told (not stored)."""

    type: Literal["typing"]


class ReadFrame(_Frame):
    """The customer has read every message up to ``seq``: the agent's read receipt."""

    type: Literal["read"]
    seq: Seq


OpeningFrame = Annotated[StartFrame | ResumeFrame, Field(discriminator="type")]
ConversationFrame = Annotated[
    MessageFrame | PingFrame | CustomerTypingFrame | ReadFrame, Field(discriminator="type")
]
_CONVERSATION_TYPES = ("message", "ping", "typing", "read")

_OPENING = TypeAdapter(OpeningFrame)
_CONVERSATION = TypeAdapter(ConversationFrame)


def decode_frame(raw: str | bytes) -> dict[str, Any]:
    """One JSON object from a frame of at most :data:`MAX_FRAME_BYTES`, read strictly
    (:func:`~handoff.strict_json.load_json`), else :class:`ProtocolViolation` (both websockets
    use these rules)."""
    try:
        value = load_json(raw, max_bytes=MAX_FRAME_BYTES)
    except UnsafeJson as exc:
        raise ProtocolViolation(f"frame refused: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolViolation(f"frame is a JSON {type(value).__name__}; send one JSON object")
    return value


def explain_validation(exc: ValidationError) -> str:
    """The first problem pydantic found, as ``field: message (got <kind>)``, where kind is
    the kind of JSON value sent (``a string``, ``true``...).

    Never the value itself: it may be long, or a token.
    """
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "frame"
    if first["type"] in ("missing", "extra_forbidden"):  # nothing sent, or nothing expected
        return f"{where}: {first['msg']}"
    return f"{where}: {first['msg']} (got {_json_kind(first['input'])})"


def _json_kind(value: object) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case None:
            return "null"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "an object"


def parse_opening(raw: str | bytes) -> StartFrame | ResumeFrame:
    """The first frame of a connection: ``start`` or ``resume`` in a supported version."""
    value = decode_frame(raw)
    if value.get("type") not in ("start", "resume"):
        raise ProtocolViolation(
            f"the first frame must be 'start' or 'resume', got {value.get('type')!r}"
        )
    try:
        frame = _OPENING.validate_python(value)
    except ValidationError as exc:
        raise ProtocolViolation(f"bad {value['type']} frame: {explain_validation(exc)}") from None
    if frame.v != PROTOCOL_VERSION:
        raise ProtocolViolation(
            f"protocol version {frame.v} is not supported; this server speaks {PROTOCOL_VERSION}",
            close_code=CloseCode.UNSUPPORTED_VERSION,
        )
    return frame


def parse_conversation_frame(
    raw: str | bytes,
) -> MessageFrame | PingFrame | CustomerTypingFrame | ReadFrame:
    """A frame after the opening: ``message``, ``ping``, ``typing`` or ``read``."""
    value = decode_frame(raw)
    if value.get("type") not in _CONVERSATION_TYPES:
        raise ProtocolViolation(
            f"expected a 'message', 'ping', 'typing' or 'read' frame, got {value.get('type')!r}"
        )
    try:
        return _CONVERSATION.validate_python(value)
    except ValidationError as exc:
        raise ProtocolViolation(f"bad {value['type']} frame: {explain_validation(exc)}") from None


# --------------------------------------------------------------------------- server frames


class CustomerView(_Frame):
    """Who the service believes the customer is (from the verified token, never the client)."""

    id: str | None
    name: str | None
    tier: str


class StartedFrame(_Frame):
    """Answer to ``start``: keep ``resume_token`` to resume after a disconnect."""

    type: Literal["started"] = "started"
    v: int = PROTOCOL_VERSION
    conversation_id: str
    resume_token: str
    customer: CustomerView
    state: str
    last_seq: int


class ResumedFrame(_Frame):
    """Answer to ``resume``; the missed ``message`` frames follow, in order."""

    type: Literal["resumed"] = "resumed"
    v: int = PROTOCOL_VERSION
    conversation_id: str
    customer: CustomerView
    state: str
    last_seq: int = Field(description="The highest sequence number stored right now.")


class AckFrame(_Frame):
    """A customer message is stored (``duplicate``: it had been stored before)."""

    type: Literal["ack"] = "ack"
    client_message_id: str
    seq: int
    duplicate: bool


class TranscriptFrame(_Frame):
    """One transcript entry: a customer, bot, agent or system message."""

    type: Literal["message"] = "message"
    seq: int
    sender: Literal["customer", "bot", "agent", "system"]
    text: str
    at: datetime
    client_message_id: str | None = None
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="Public details: buttons, the agent's name and team, a state change.",
    )


class ErrorFrame(_Frame):
    """A frame was refused; the connection stays open."""

    type: Literal["error"] = "error"
    code: str
    message: str


class RateLimitedFrame(_Frame):
    """A frame refused for coming too fast: nothing was done with it (a message is not stored
    and has no ack); send it again after ``retry_after_seconds``. The connection stays open."""

    type: Literal["error"] = "error"
    code: Literal["rate_limited"] = "rate_limited"
    message: str
    retry_after_seconds: int

    @classmethod
    def of(cls, refusal: RateLimited) -> RateLimitedFrame:
        """The frame that tells the client of ``refusal``."""
        return cls(message=refusal.message, retry_after_seconds=refusal.retry_after_seconds)


class QueueFrame(_Frame):
    """While queued: the place in the team's queue and the expected wait (not stored)."""

    type: Literal["queue"] = "queue"
    position: int
    agents_online: int
    wait_estimate_seconds: int | None
    text: str


class PongFrame(_Frame):
    """Answer to ``ping``."""

    type: Literal["pong"] = "pong"


class TypingFrame(_Frame):
    """The agent is typing (not stored; the widget hides it after a few seconds)."""

    type: Literal["typing"] = "typing"
    sender: Literal["agent"] = "agent"
    name: str


class ReadReceiptFrame(_Frame):
    """The agent has read every message up to ``seq``: the customer's read receipt."""

    type: Literal["read"] = "read"
    sender: Literal["agent"] = "agent"
    seq: int
