"""The agent websocket protocol, version 1: the frames of ``/ws/agent``, parsed and refused here.

Like the customer protocol (:mod:`handoff.gateway.protocol`), every frame is one JSON object
with a ``type``, and a frame with a field its type does not define is refused. The agent speaks
first: ``auth`` with the access token from ``POST /api/agents/login``, within the handshake
timeout. The server answers ``welcome`` (the agent, the queue they may take from, and what they
hold), then pushes ``handoff_queued`` the moment a customer is queued for one of their teams
and ``handoff_taken`` when someone else took one. The agent then works with ``claim``,
``acknowledge``, ``message``, ``note``, ``transfer``, ``hand_back``, ``resolve``, ``presence``,
``typing``, ``read`` and ``ping``. Of a held handoff the agent is also told when the customer is
typing (``typing``) and has read up to a message (``read``); the agent's ``ack`` is the delivery
receipt of their own message, and their ``read`` the customer's read receipt.

The conversation of a handoff the agent holds reaches them as ``message`` frames: the
customer's, the agent's own (the echo) and system messages, each tagged with its
``handoff_id``, and internal notes marked ``internal: true``. Notes never reach the customer.

Parsing raises only :class:`~handoff.gateway.protocol.ProtocolViolation`, and reads frames as
strictly as the customer protocol: no coercion (``"42"`` is not a handoff id, ``"yes"`` not a
boolean), ids and sequence numbers within what the store keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from handoff.agents.canned import CannedResponse
from handoff.agents.sla import DEFAULT_WARNING_FRACTION
from handoff.gateway.protocol import (
    MAX_CLIENT_MESSAGE_ID_CHARS,
    MAX_TEXT_CHARS,
    CloseCode,
    ProtocolViolation,
    Seq,
    StoredId,
    TranscriptFrame,
    Version,
    decode_frame,
    explain_validation,
)
from handoff.store.repository import HandoffRecord
from handoff.store.states import RootCause

__all__ = [
    "AGENT_PROTOCOL_VERSION",
    "AcknowledgeFrame",
    "AgentAckFrame",
    "AgentFrame",
    "AgentMessageFrame",
    "AgentTranscriptFrame",
    "AgentPingFrame",
    "AgentReadFrame",
    "AgentTypingFrame",
    "CustomerReadFrame",
    "CustomerTypingFrame",
    "AgentView",
    "AuthFrame",
    "ClientFrame",
    "ClaimFailedFrame",
    "ClaimFrame",
    "ClaimedFrame",
    "DoneFrame",
    "HandBackFrame",
    "HandoffQueuedFrame",
    "HandoffTakenFrame",
    "HandoffView",
    "NoteFrame",
    "PresenceFrame",
    "ResolveFrame",
    "TransferFrame",
    "WelcomeFrame",
    "parse_agent_frame",
    "parse_auth",
]

AGENT_PROTOCOL_VERSION = 1
MAX_NOTE_CHARS = 4_000
MAX_REASON_CHARS = 500


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- client frames


class AuthFrame(_Frame):
    """The first frame: the agent's access token (never a customer's identity token)."""

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4_096)
    v: Version = Field(default=AGENT_PROTOCOL_VERSION, description="Protocol version; 1.")


class ClaimFrame(_Frame):
    """Take a queued handoff; answered with ``claimed`` or ``claim_failed``."""

    type: Literal["claim"]
    handoff_id: StoredId


class AcknowledgeFrame(_Frame):
    """Warm handoff: the brief is read; the customer gets the agent's introduction."""

    type: Literal["acknowledge"]
    handoff_id: StoredId


class AgentMessageFrame(_Frame):
    """A message to the customer of a held handoff; answered with ``ack``."""

    type: Literal["message"]
    handoff_id: StoredId
    client_message_id: str = Field(min_length=1, max_length=MAX_CLIENT_MESSAGE_ID_CHARS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class NoteFrame(_Frame):
    """An internal note on a held handoff: for agents and supervisors, never the customer."""

    type: Literal["note"]
    handoff_id: StoredId
    text: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class TransferFrame(_Frame):
    """Send a held handoff, brief and all, to another team's queue."""

    type: Literal["transfer"]
    handoff_id: StoredId
    to_team: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class HandBackFrame(_Frame):
    """Give the customer back to the assistant, with a summary for the record."""

    type: Literal["hand_back"]
    handoff_id: StoredId
    summary: str = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class ResolveFrame(_Frame):
    """Resolve a held handoff and record how it ended; the assistant owns the chat again."""

    type: Literal["resolve"]
    handoff_id: StoredId
    avoidable: StrictBool
    root_cause: RootCause
    correct_intent: str | None = Field(default=None, min_length=1, max_length=100)
    misunderstood_message_seq: Seq | None = None
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)


class PresenceFrame(_Frame):
    """Online: new handoffs are pushed and customers' wait estimates count this agent."""

    type: Literal["presence"]
    status: Literal["online", "away"]


class AgentTypingFrame(_Frame):
    """The agent is typing in a held handoff: the customer is shown it (nothing is stored)."""

    type: Literal["typing"]
    handoff_id: StoredId


class AgentReadFrame(_Frame):
    """The agent has read the held handoff's messages up to ``seq``: the customer is told
    (nothing is stored)."""

    type: Literal["read"]
    handoff_id: StoredId
    seq: Seq


class AgentPingFrame(_Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


ClientFrame = (
    ClaimFrame
    | AcknowledgeFrame
    | AgentMessageFrame
    | NoteFrame
    | TransferFrame
    | HandBackFrame
    | ResolveFrame
    | PresenceFrame
    | AgentTypingFrame
    | AgentReadFrame
    | AgentPingFrame
)
"""Any frame an authenticated agent may send."""
AgentFrame = Annotated[ClientFrame, Field(discriminator="type")]
_AGENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(AgentFrame)
_TYPES = ("claim", "acknowledge", "message", "note", "transfer", "hand_back", "resolve",
          "presence", "typing", "read", "ping")  # fmt: skip


def parse_auth(raw: str | bytes) -> AuthFrame:
    """The first frame of a connection: ``auth`` in a supported version."""
    value = decode_frame(raw)
    if value.get("type") != "auth":
        raise ProtocolViolation(f"the first frame must be 'auth', got {value.get('type')!r}")
    try:
        frame = AuthFrame.model_validate(value)
    except ValidationError as exc:
        raise ProtocolViolation(f"bad auth frame: {explain_validation(exc)}") from None
    if frame.v != AGENT_PROTOCOL_VERSION:
        raise ProtocolViolation(
            f"protocol version {frame.v} is not supported; this server speaks "
            f"{AGENT_PROTOCOL_VERSION}",
            close_code=CloseCode.UNSUPPORTED_VERSION,
        )
    return frame


def parse_agent_frame(raw: str | bytes) -> ClientFrame:
    """A frame after ``auth``: one of the client frames above (see :data:`AgentFrame`)."""
    value = decode_frame(raw)
    if value.get("type") not in _TYPES:
        raise ProtocolViolation(
            f"unknown frame type {value.get('type')!r}; expected one of {', '.join(_TYPES)}"
        )
    try:
        return _AGENT_FRAME.validate_python(value)
    except ValidationError as exc:
        raise ProtocolViolation(f"bad {value['type']} frame: {explain_validation(exc)}") from None


# --------------------------------------------------------------------------- server frames


class AgentView(_Frame):
    """Who the socket belongs to, from the account (not from the token alone)."""

    id: str
    name: str
    role: str
    teams: list[str]


class HandoffView(_Frame):
    """A handoff as the agent desk shows it, with the brief built when it was queued."""

    id: int
    conversation_id: str
    status: str
    team: str
    severity: str
    category: str
    priority: int
    mode: str
    queued_at: datetime
    acknowledge_due: datetime
    resolve_due: datetime
    agent_id: str | None
    acknowledged: bool
    acknowledged_at: datetime | None  # the first acknowledgement (the SLA's), kept on transfer
    transfer_count: int
    brief: dict[str, Any]

    @classmethod
    def of(cls, handoff: HandoffRecord, *, acknowledged: bool = False) -> HandoffView:
        """The view of a stored handoff."""
        return cls(
            id=handoff.id, conversation_id=handoff.conversation_id, status=handoff.status.value,
            team=handoff.team, severity=handoff.severity, category=handoff.category,
            priority=handoff.priority, mode=handoff.mode, queued_at=handoff.created_at,
            acknowledge_due=handoff.acknowledge_due, resolve_due=handoff.resolve_due,
            agent_id=handoff.agent_id, acknowledged=acknowledged,
            acknowledged_at=handoff.acknowledged_at, transfer_count=handoff.transfer_count,
            brief=handoff.brief,
        )  # fmt: skip


class AgentTranscriptFrame(_Frame):
    """One message of a held conversation; ``internal``: a note, never shown to the customer."""

    type: Literal["message"] = "message"
    handoff_id: int
    seq: int
    sender: Literal["customer", "bot", "agent", "system"]
    text: str
    at: datetime
    client_message_id: str | None = None
    internal: bool = False
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, frame: TranscriptFrame, handoff_id: int, *, internal: bool) -> AgentTranscriptFrame:
        """The agent's copy of a customer-side transcript frame."""
        return cls(handoff_id=handoff_id, internal=internal, **frame.model_dump(exclude={"type"}))


class WelcomeFrame(_Frame):
    """Answer to ``auth``: the queue this agent may take from, and the handoffs they hold.

    One ``claimed`` frame per held handoff follows, with its transcript.
    """

    type: Literal["welcome"] = "welcome"
    v: int = AGENT_PROTOCOL_VERSION
    agent: AgentView
    queue: list[HandoffView]
    assigned: list[HandoffView]
    canned_responses: list[CannedResponse] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)  # every team, e.g. to transfer to
    sla_warning_fraction: float = DEFAULT_WARNING_FRACTION  # the monitor's: countdowns go amber


class HandoffQueuedFrame(_Frame):
    """A customer was queued for one of the agent's teams (or transferred to one)."""

    type: Literal["handoff_queued"] = "handoff_queued"
    handoff: HandoffView


class HandoffTakenFrame(_Frame):
    """Someone else took a queued handoff: drop it from the queue view."""

    type: Literal["handoff_taken"] = "handoff_taken"
    handoff_id: int
    agent_name: str


class ClaimedFrame(_Frame):
    """The handoff is this agent's: its state and the conversation so far (notes included)."""

    type: Literal["claimed"] = "claimed"
    handoff: HandoffView
    transcript: list[AgentTranscriptFrame]


class ClaimFailedFrame(_Frame):
    """The claim lost: ``taken`` (another agent won), ``not_found``, ``at_capacity``."""

    type: Literal["claim_failed"] = "claim_failed"
    handoff_id: int
    reason: str


class AgentAckFrame(_Frame):
    """The agent's message is stored and on its way to the customer."""

    type: Literal["ack"] = "ack"
    client_message_id: str
    seq: int


class DoneFrame(_Frame):
    """An action on a held handoff is done: acknowledged, noted, transferred, handed_back,
    resolved. ``seq``: the note's; ``within_sla``: the resolution's."""

    type: Literal["done"] = "done"
    action: Literal["acknowledged", "noted", "transferred", "handed_back", "resolved"]
    handoff_id: int
    seq: int | None = None
    within_sla: bool | None = None


class CustomerTypingFrame(_Frame):
    """The customer of a held handoff is typing (not stored; the widget throttles it)."""

    type: Literal["typing"] = "typing"
    handoff_id: int


class CustomerReadFrame(_Frame):
    """The customer of a held handoff has read every message up to ``seq``."""

    type: Literal["read"] = "read"
    handoff_id: int
    seq: int
