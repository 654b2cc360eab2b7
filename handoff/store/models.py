"""The service's tables (SQLAlchemy 2 declarative mapping): conversations and agents.

Ids of conversations and agents are uuid4 hex strings made by their stores; messages and
handoffs have integer ids. All timestamps are aware UTC datetimes supplied by the caller
(``now``), so the clock stays outside the adapter. Enumerated columns are short strings with
a CHECK constraint (not native enums), so adding a value is a small migration on every backend.

The repositories (:mod:`handoff.store.repository`, :mod:`handoff.store.agent_work` for the
agents' work on handoffs, and :mod:`handoff.agents.accounts` for :class:`Agent`) are the only
code that uses these classes; the rest of the service sees frozen records instead.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from handoff.store.column_types import UtcDateTime, json_document
from handoff.store.states import (
    AgentRole,
    ConversationState,
    HandoffStatus,
    ReviewStatus,
    RootCause,
    Sender,
    SlaEventKind,
    SlaTarget,
)

# Deterministic constraint names: a later migration can drop or alter them by name, on
# PostgreSQL and in SQLite's batch mode alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: type[StrEnum]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"


class Base(DeclarativeBase):
    """Declarative base of the handoff service's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Conversation(Base):
    """One customer conversation, from the first message to its close."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_one_of("state", ConversationState), name="state"),
        CheckConstraint("last_seq >= 0", name="last_seq"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(64))  # None: anonymous
    customer_name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    # SHA-256 hex of the resume token: the token itself is never stored.
    resume_token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    # The seq of the newest message; the next message takes last_seq + 1.
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Message(Base):
    """One message of a conversation, numbered by ``seq`` (1, 2, 3... without gaps)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_message_id"),
        CheckConstraint(_one_of("sender", Sender), name="sender"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # The customer's client's own id, so a resent message is stored once. NULLs never clash.
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(json_document(), default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Handoff(Base):
    """One escalation of a conversation to the human agents' queue."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_one_of("status", HandoffStatus), name="status"),
        # What the agents' queue reads: queued handoffs, most urgent first, then oldest first.
        Index(None, "status", "priority", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(json_document())
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    team: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)  # lower is more urgent
    mode: Mapped[str] = mapped_column(String(8))  # warm | cold
    acknowledge_due: Mapped[datetime] = mapped_column(UtcDateTime())
    resolve_due: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    brief: Mapped[dict[str, Any]] = mapped_column(json_document())
    customer_notice: Mapped[str] = mapped_column(Text)  # exactly what the customer was told
    # The current assignment (migration 0003). agent_id and assigned_at are set while assigned
    # and cleared when the handoff goes back to the queue; acknowledged_at is the first
    # acknowledgement (the SLA's), kept across transfers; resolved_at ends the resolve clock.
    agent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    transfer_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The customer's rating (1..5) once the conversation is back with the bot (migration 0004).
    satisfaction_rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Resolution(Base):
    """How a handoff ended, as its agent recorded it: one per resolved handoff.

    ``within_sla`` is computed by the store from the handoff's ``resolved_at`` and
    ``resolve_due``. ``correct_intent`` and ``misunderstood_message_seq`` (a message of the
    handoff's conversation) are what the bot's trainers read.
    """

    __tablename__ = "resolutions"
    __table_args__ = (CheckConstraint(_one_of("root_cause", RootCause), name="root_cause"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), unique=True)
    trigger: Mapped[str] = mapped_column(String(64))
    avoidable: Mapped[bool] = mapped_column(Boolean)
    within_sla: Mapped[bool] = mapped_column(Boolean)
    root_cause: Mapped[str] = mapped_column(String(32))
    correct_intent: Mapped[str | None] = mapped_column(String(100))
    misunderstood_message_seq: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReviewItem(Base):
    """A customer message in the bot trainers' inbox, masked, with why it is there.

    Written in the transaction that completes its turn (``reasons`` from
    :func:`handoff.trainer.inbox.review_reasons`); near-identical messages share
    ``occurrence_key`` and are counted and labelled together.
    """

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(_one_of("status", ReviewStatus), name="status"),
        # The inbox: the open messages, grouped by key, newest first.
        Index(None, "status", "occurrence_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    text: Mapped[str] = mapped_column(Text)  # masked (handoff.trainer.masking)
    occurrence_key: Mapped[str] = mapped_column(String(500))
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(json_document(), default=list)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(json_document(), default=list)
    suggestion: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.OPEN.value)
    label: Mapped[str | None] = mapped_column(String(100))  # the intent a trainer gave it
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SlaEvent(Base):
    """A warning or breach of one SLA target of a handoff, recorded at most once."""

    __tablename__ = "sla_events"
    __table_args__ = (
        # At most one event per kind and target: recording is idempotent, races included.
        UniqueConstraint("handoff_id", "kind", "target"),
        CheckConstraint(_one_of("kind", SlaEventKind), name="kind"),
        CheckConstraint(_one_of("target", SlaTarget), name="target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the threshold was crossed


class Agent(Base):
    """A human agent's or supervisor's account.

    ``username`` is stored lowercased (the CHECK refuses anything else), so uniqueness is
    case-insensitive on every backend. ``teams`` is a JSON list of the escalation matrix's team
    names; which names are valid is the policy's business, checked above the store. Only the
    password's Argon2 hash is stored.
    """

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(_one_of("role", AgentRole), name="role"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint("username = lower(username)", name="username_lowercase"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    teams: Mapped[list[str]] = mapped_column(json_document())
    # How many conversations the agent takes at once.
    capacity: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
