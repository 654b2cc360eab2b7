"""The conversation store: conversations, their messages and their handoffs.

:class:`ConversationStore` is the service's only way into its database. Its methods are
synchronous (the gateway calls them through ``asyncio.to_thread``), each write is one
transaction, and every result is a frozen record, never an ORM object, so nothing outside
this module can lazy-load or write by accident.

Message numbers (``seq``) are per conversation, 1, 2, 3... with no gaps. The next one is taken
inside the inserting transaction by ``UPDATE conversations SET last_seq = last_seq + 1 ...
RETURNING last_seq``: on PostgreSQL the update row-locks the conversation until commit, so
concurrent writers queue up; on SQLite a write transaction holds the database's write lock
from ``BEGIN IMMEDIATE`` on (see :func:`handoff.store.database.for_writing`). A rolled-back
insert rolls its number back with it, so no gap appears.

The private ``_transition_in`` and ``_add_handoff`` do their work inside a session the caller
has opened, so :meth:`ConversationStore.queue_handoff` can change the state, record the
handoff and write the customer notice in a single transaction.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Select, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from handoff.store.database import for_writing, session_factory
from handoff.store.errors import ConversationNotFound, HandoffStateError, IllegalTransition
from handoff.store.models import Conversation, Handoff, Message
from handoff.store.review import NewReviewItem, insert_review_item, upsert_review_item
from handoff.store.states import (
    ALLOWED_TRANSITIONS,
    ConversationState,
    HandoffStatus,
    Sender,
    check_transition,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ConversationRecord",
    "ConversationStore",
    "HandoffRecord",
    "MessageRecord",
    "NewHandoff",
    "QueuedHandoff",
    "StoredCustomerMessage",
]

logger = logging.getLogger(__name__)

_MESSAGES = cast(Table, Message.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)

# The Core statements of a customer turn's hot path, built once with bound parameters.
# Building a statement and its cache key on every call cost more than running it: storing a
# message took 1.6 ms that way and 0.45 ms this way (SQLite, one thread). A bound name may not
# be a column that the statement sets, hence "new_payload" and "message_id".
_NEXT_SEQ = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(last_seq=_CONVERSATIONS.c.last_seq + 1, updated_at=bindparam("now"))
    .returning(_CONVERSATIONS.c.last_seq)
)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_CONVERSATION = select(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
_CLIENT_MESSAGE = select(_MESSAGES).where(
    _MESSAGES.c.conversation_id == bindparam("conversation_id"),
    _MESSAGES.c.client_message_id == bindparam("client_message_id"),
)
_MESSAGE_FOR_UPDATE = (
    select(_MESSAGES).where(_MESSAGES.c.id == bindparam("message_id")).with_for_update()
)
_SET_PAYLOAD = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"))
    .values(payload=bindparam("new_payload"))
)
_MESSAGES_AFTER = (
    select(_MESSAGES)
    .where(
        _MESSAGES.c.conversation_id == bindparam("conversation_id"),
        _MESSAGES.c.seq > bindparam("after_seq"),
    )
    .order_by(_MESSAGES.c.seq)
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_EVENT_KEYS = frozenset({"event", "from", "to", "reason"})
_NOTICE_KEYS = frozenset({"event", "handoff_id"})


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A conversation as stored."""

    id: str
    customer_id: str | None
    customer_name: str | None
    tier: str
    channel: str
    state: ConversationState
    last_seq: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    resume_token_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A message as stored; ``payload`` is the caller's own copy."""

    id: int
    conversation_id: str
    seq: int
    sender: Sender
    text: str
    client_message_id: str | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCustomerMessage:
    """A customer message as :meth:`ConversationStore.store_customer_message` left it."""

    message: MessageRecord
    duplicate: bool  # the client's id was stored already: nothing was written
    # The conversation as the storing transaction saw it (``None`` when a lost race was
    # settled outside it): whoever owned it when the message was stored.
    conversation: ConversationRecord | None


@dataclass(frozen=True, slots=True)
class QueueEntryRecord:
    """A queued handoff without its brief (see :meth:`ConversationStore.queue_entries`)."""

    handoff_id: int
    conversation_id: str
    team: str
    priority: int
    created_at: datetime
    acknowledge_due: datetime


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A bot or system message to store (see :meth:`ConversationStore.complete_turn`)."""

    sender: str
    text: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandoffRecord:
    """A handoff as stored.

    The assignment fields (see :mod:`handoff.store.agent_work`): ``agent_id`` and
    ``assigned_at`` describe the current assignment (``None`` while queued);
    ``acknowledged_at`` is the first acknowledgement, kept across transfers, as the SLA clock
    reads it; ``resolved_at`` is set when the handoff is resolved.
    """

    id: int
    conversation_id: str
    status: HandoffStatus
    reasons: list[Any]
    score: float
    severity: str
    category: str
    team: str
    priority: int
    mode: str
    acknowledge_due: datetime
    resolve_due: datetime
    created_at: datetime
    brief: dict[str, Any]
    customer_notice: str
    agent_id: str | None = None
    assigned_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    transfer_count: int = 0
    satisfaction_rating: int | None = None
    rated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewHandoff:
    """What a new handoff records (its conversation and time are given separately).

    ``reasons`` and ``brief`` must be JSON-serialisable (plain lists, dicts, strings,
    numbers); ``customer_notice`` is exactly what the customer was told.
    """

    reasons: Sequence[Any]
    score: float
    severity: str
    category: str
    team: str
    priority: int
    mode: str
    acknowledge_due: datetime
    resolve_due: datetime
    brief: Mapping[str, Any]
    customer_notice: str


@dataclass(frozen=True, slots=True)
class QueuedHandoff:
    """What :meth:`ConversationStore.queue_handoff` wrote, in one transaction."""

    state_message: MessageRecord  # the bot -> queued system message
    handoff: HandoffRecord
    notice_message: MessageRecord  # the system message with the words the customer was told


class ConversationStore:
    """Conversations, messages and handoffs in the service's database (thread-safe)."""

    def __init__(self, engine: Engine) -> None:
        self._read = session_factory(engine)
        self._write = session_factory(for_writing(engine))

    # --- conversations ------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        customer_id: str | None,
        customer_name: str | None,
        tier: str,
        channel: str,
        resume_token_hash: str,
        now: datetime,
    ) -> ConversationRecord:
        """Start a conversation in state ``bot`` with no messages.

        ``resume_token_hash`` is the SHA-256 hex digest of the resume token (64 lowercase hex
        digits); the token itself must never reach the store.
        """
        if not _SHA256_HEX.fullmatch(resume_token_hash):
            raise ValueError("resume_token_hash must be a SHA-256 hex digest, not the token")
        now = _utc(now)
        row = Conversation(
            id=uuid.uuid4().hex,
            customer_id=customer_id,
            customer_name=customer_name,
            tier=str(tier),
            channel=channel,
            state=ConversationState.BOT.value,
            resume_token_hash=resume_token_hash,
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        with self._writing() as session:
            session.add(row)
            session.flush()
            return _conversation_record(row)

    def get_conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation with that id, or ``None``."""
        with self._read() as session:
            row = session.get(Conversation, conversation_id)
            return None if row is None else _conversation_record(row)

    def find_by_token_hash(self, token_hash: str) -> ConversationRecord | None:
        """The conversation whose resume token hashes to ``token_hash``, or ``None``."""
        with self._read() as session:
            row = session.scalars(
                select(Conversation).where(Conversation.resume_token_hash == token_hash)
            ).one_or_none()
            return None if row is None else _conversation_record(row)

    def transition(
        self,
        conversation_id: str,
        *,
        allowed_from: Collection[str],
        to: str,
        reason: str,
        now: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> MessageRecord:
        """Move the conversation to state ``to`` if it is now in one of ``allowed_from``.

        The state change and its system message (payload ``{"event": "state_changed",
        "from", "to", "reason", **detail}``) are written in one transaction; the message is
        returned. Raises :class:`IllegalTransition` when the stored state is not in
        ``allowed_from`` (nothing is written), :class:`ConversationNotFound`, and
        ``ValueError`` for a request the state graph forbids whatever the stored state.
        """
        now = _utc(now)
        with self._writing() as session:
            return self._transition_in(
                session,
                conversation_id,
                allowed_from=allowed_from,
                to=to,
                reason=reason,
                now=now,
                detail=detail,
            )

    def queue_handoff(
        self,
        conversation_id: str,
        *,
        handoff: NewHandoff,
        notice: str,
        notice_payload: Mapping[str, Any],
        reason: str,
        now: datetime,
    ) -> QueuedHandoff:
        """Hand the conversation to the agents' queue, all in one transaction.

        Moves the conversation from ``bot`` to ``queued`` (system message as
        :meth:`transition` writes it, with ``reason`` and detail ``{"handoff_team",
        "severity"}``), records ``handoff`` in status ``queued`` and appends a system message
        with text ``notice`` and payload ``{"event": "handoff_notice", **notice_payload,
        "handoff_id": <the new handoff's id>}``. Either all three are written or nothing is.
        Raises :class:`IllegalTransition` when the conversation is not in ``bot`` (nothing is
        written), :class:`ConversationNotFound`, and ``ValueError`` when ``notice_payload``
        would override ``event`` or ``handoff_id``.
        """
        now = _utc(now)
        extra = dict(notice_payload)
        if clash := _NOTICE_KEYS & extra.keys():
            raise ValueError(f"notice_payload may not override {sorted(clash)}")
        with self._writing() as session:
            state_message = self._transition_in(
                session,
                conversation_id,
                allowed_from=[ConversationState.BOT.value],
                to=ConversationState.QUEUED.value,
                reason=reason,
                now=now,
                detail={"handoff_team": handoff.team, "severity": str(handoff.severity)},
            )
            record = self._add_handoff(session, conversation_id, handoff, now=now)
            notice_message = self._insert_message(
                session,
                conversation_id,
                sender=Sender.SYSTEM,
                text=notice,
                client_message_id=None,
                payload={"event": "handoff_notice", **extra, "handoff_id": record.id},
                now=now,
            )
            logger.info(
                "conversation %s: handoff %s queued for team %s",
                conversation_id,
                record.id,
                record.team,
            )
            return QueuedHandoff(
                state_message=state_message, handoff=record, notice_message=notice_message
            )

    # --- messages -----------------------------------------------------------------------

    def append_customer_message(
        self,
        conversation_id: str,
        *,
        client_message_id: str | None,
        text: str,
        payload: Mapping[str, Any] | None,
        now: datetime,
    ) -> tuple[MessageRecord, bool]:
        """Store a customer's message unless the same ``client_message_id`` already was.

        Returns the message and whether it was a duplicate: for a ``client_message_id``
        already stored in this conversation, the stored message comes back with ``True`` and
        nothing is written, even when two copies race each other to the database.
        """
        stored = self.store_customer_message(
            conversation_id,
            client_message_id=client_message_id,
            text=text,
            payload=payload,
            now=now,
        )
        return stored.message, stored.duplicate

    def store_customer_message(
        self,
        conversation_id: str,
        *,
        client_message_id: str | None,
        text: str,
        payload: Mapping[str, Any] | None,
        now: datetime,
    ) -> StoredCustomerMessage:
        """:meth:`append_customer_message`, and the conversation read in the same transaction,
        so that the turn that follows need not read it again before asking the assistant."""
        message, duplicate, conversation = self._append_once(
            conversation_id, Sender.CUSTOMER, client_message_id, text, payload, _utc(now)
        )
        return StoredCustomerMessage(message, duplicate, conversation)

    def append_agent_message(
        self,
        conversation_id: str,
        *,
        agent_id: str,
        client_message_id: str,
        text: str,
        payload: Mapping[str, Any] | None,
        now: datetime,
    ) -> tuple[MessageRecord, bool]:
        """Store an agent's message once per ``client_message_id``, like a customer's.

        The id is stored as ``<agent_id>:<client_message_id>``, so two agents (or an agent and
        the customer) can never collide on an id of their own choosing.
        """
        namespaced = f"{agent_id}:{client_message_id}"
        message, duplicate, _ = self._append_once(
            conversation_id, Sender.AGENT, namespaced, text, payload, _utc(now)
        )
        return message, duplicate

    def _append_once(
        self,
        conversation_id: str,
        sender: Sender,
        client_message_id: str | None,
        text: str,
        payload: Mapping[str, Any] | None,
        now: datetime,
    ) -> tuple[MessageRecord, bool, ConversationRecord | None]:
        try:
            with self._writing() as session:
                # The lookup of a retry inside the writing transaction: one transaction per
                # message, not a read and then a write (on SQLite the write lock, taken at
                # BEGIN, also makes the lookup final).
                if client_message_id is not None:
                    stored = _client_message(session, conversation_id, client_message_id)
                    if stored is not None:
                        return stored, True, _conversation_in(session, conversation_id)
                message = self._insert_message(
                    session,
                    conversation_id,
                    sender=sender,
                    text=text,
                    client_message_id=client_message_id,
                    payload=dict(payload or {}),
                    now=now,
                )
                return message, False, _conversation_in(session, conversation_id)
        except IntegrityError:
            # Another copy won the race between the lookup and the insert: the unique
            # constraint refused this one, and the rollback returned its seq.
            if client_message_id is not None:
                stored = self._find_client_message(conversation_id, client_message_id)
                if stored is not None:
                    return stored, True, None
            raise

    def append_message(
        self,
        conversation_id: str,
        *,
        sender: str,
        text: str,
        payload: Mapping[str, Any] | None,
        now: datetime,
    ) -> MessageRecord:
        """Store a message of the bot, an agent or the system (customers' go through
        :meth:`append_customer_message`).

        An agent's internal note (for other agents and supervisors, never the customer) is
        an ordinary message with ``sender="agent"`` and ``payload={"internal": True}``: the
        gateway filters those out of everything it sends to the customer.
        """
        who = Sender(sender)
        if who is Sender.CUSTOMER:
            raise ValueError("customer messages go through append_customer_message")
        now = _utc(now)
        with self._writing() as session:
            return self._insert_message(
                session,
                conversation_id,
                sender=who,
                text=text,
                client_message_id=None,
                payload=dict(payload or {}),
                now=now,
            )

    def append_bot_messages(
        self, conversation_id: str, messages: Sequence[NewMessage], *, now: datetime
    ) -> list[MessageRecord]:
        """Store messages the bot sends of its own accord (not in reply to a customer
        message), only while the bot owns the conversation: nothing is stored, and ``[]``
        returned, once a person owns it or it is closed. Raises :class:`ConversationNotFound`.
        """
        now = _utc(now)
        with self._writing() as session:
            state = session.scalar(
                select(Conversation.state)
                .where(Conversation.id == conversation_id)
                .with_for_update()
            )
            if state is None:
                raise ConversationNotFound(conversation_id)
            if state != ConversationState.BOT.value:
                return []
            return self._insert_replies(session, conversation_id, messages, now)

    def rate_last_handoff(self, conversation_id: str, rating: int, *, now: datetime) -> int | None:
        """Record the customer's ``rating`` (1..5) on the conversation's latest resolved
        handoff, unless it already has one; the handoff's id, or ``None`` when there was
        nothing to rate. ``ValueError`` for a rating outside 1..5."""
        if not 1 <= rating <= 5:
            raise ValueError(f"a rating is 1 to 5, got {rating}")
        now = _utc(now)
        with self._writing() as session:
            row = session.scalars(
                _latest_handoff_of(conversation_id).with_for_update()
            ).one_or_none()
            if row is None or row.status != HandoffStatus.RESOLVED.value:
                return None
            if row.satisfaction_rating is not None:
                return None
            row.satisfaction_rating = rating
            row.rated_at = now
            return row.id

    def update_message_payload(self, message_id: int, extra: Mapping[str, Any]) -> MessageRecord:
        """Merge ``extra`` into a message's payload (its keys win) and return the message.

        Raises ``LookupError`` when no message has that id.
        """
        with self._writing() as session:
            return _merge_payload(session, message_id, extra)

    def complete_turn(
        self,
        message_id: int,
        *,
        extra: Mapping[str, Any],
        replies: Sequence[NewMessage],
        now: datetime,
        review: NewReviewItem | None = None,
    ) -> tuple[MessageRecord, list[MessageRecord]]:
        """Merge ``extra`` into a customer message's payload and store its replies, together;
        with ``review``, the message goes to the trainers' inbox too.

        One transaction: a turn is either answered and marked, or neither, so a crash can
        never leave an answered message looking unanswered or the reverse. Returns the updated
        message and the stored replies, in order. Raises ``LookupError`` for an unknown id.
        """
        now = _utc(now)
        with self._writing() as session:
            updated = _merge_payload(session, message_id, extra)
            stored = self._insert_replies(session, updated.conversation_id, replies, now)
            if review is not None:
                insert_review_item(
                    session,
                    message_id=message_id,
                    conversation_id=updated.conversation_id,
                    item=review,
                    now=now,
                )
            return updated, stored

    def record_review(
        self, message_id: int, *, conversation_id: str, item: NewReviewItem, now: datetime
    ) -> int:
        """Put a customer message in the trainers' inbox, or add ``item``'s reasons to its
        entry there (see :func:`handoff.store.review.upsert_review_item`); returns its id."""
        with self._writing() as session:
            return upsert_review_item(
                session,
                message_id=message_id,
                conversation_id=conversation_id,
                item=item,
                now=_utc(now),
            )

    def messages_after(self, conversation_id: str, after_seq: int) -> list[MessageRecord]:
        """The conversation's messages with ``seq > after_seq``, in order (``[]`` for an
        unknown conversation)."""
        with self._read() as session:
            rows = session.execute(
                _MESSAGES_AFTER, {"conversation_id": conversation_id, "after_seq": after_seq}
            )
            return [_message_record(row) for row in rows]

    def transcript(self, conversation_id: str) -> list[MessageRecord]:
        """Every message of the conversation, in order."""
        return self.messages_after(conversation_id, 0)

    def unprocessed_customer_messages(self, conversation_id: str) -> list[MessageRecord]:
        """The conversation's customer messages whose payload lacks ``"processed": true``, in
        order: the turns to run again after a crash (``[]`` for an unknown conversation)."""
        with self._read() as session:
            rows = session.scalars(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.sender == Sender.CUSTOMER.value,
                )
                .order_by(Message.seq)
            )
            # Filtered here, not in SQL: JSON operators differ between SQLite and PostgreSQL.
            return [
                _message_record(row)
                for row in rows
                if not (isinstance(row.payload, dict) and row.payload.get("processed") is True)
            ]

    # --- handoffs -----------------------------------------------------------------------

    def create_handoff(
        self,
        conversation_id: str,
        *,
        reasons: Sequence[Any],
        score: float,
        severity: str,
        category: str,
        team: str,
        priority: int,
        mode: str,
        acknowledge_due: datetime,
        resolve_due: datetime,
        brief: Mapping[str, Any],
        customer_notice: str,
        now: datetime,
    ) -> HandoffRecord:
        """Record a handoff of the conversation, in status ``queued``.

        ``reasons`` and ``brief`` must be JSON-serialisable (plain lists, dicts, strings,
        numbers). Raises :class:`ConversationNotFound`. To change the state and record the
        handoff together, use :meth:`queue_handoff`.
        """
        new = NewHandoff(
            reasons=reasons,
            score=score,
            severity=severity,
            category=category,
            team=team,
            priority=priority,
            mode=mode,
            acknowledge_due=acknowledge_due,
            resolve_due=resolve_due,
            brief=brief,
            customer_notice=customer_notice,
        )
        now = _utc(now)
        with self._writing() as session:
            return self._add_handoff(session, conversation_id, new, now=now)

    def set_handoff_status(
        self,
        handoff_id: int,
        *,
        status: str,
        allowed_from: Collection[str],
        now: datetime,
    ) -> HandoffRecord:
        """Set the handoff's status to ``status`` if it is now in one of ``allowed_from``.

        Raises :class:`HandoffStateError` when the stored status is not in ``allowed_from``
        (nothing is written), ``LookupError`` when no handoff has that id, and ``ValueError``
        for an unknown status or an empty ``allowed_from``.
        """
        target = HandoffStatus(status)
        allowed = frozenset(HandoffStatus(value) for value in allowed_from)
        if not allowed:
            raise ValueError("allowed_from is empty: no status could be left")
        now = _utc(now)
        with self._writing() as session:
            row = session.scalars(
                select(Handoff).where(Handoff.id == handoff_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise LookupError(f"no handoff {handoff_id}")
            source = HandoffStatus(row.status)
            if source not in allowed:
                raise HandoffStateError(
                    handoff_id, current=source, wanted=target, allowed_from=allowed
                )
            row.status = target.value
            session.flush()
            logger.info("handoff %s: %s -> %s at %s", handoff_id, source, target, now.isoformat())
            return _handoff_record(row)

    def queued_handoffs(self) -> list[HandoffRecord]:
        """Handoffs waiting for an agent: most urgent (lowest priority number) first, then
        oldest first."""
        with self._read() as session:
            rows = session.scalars(
                select(Handoff)
                .where(Handoff.status == HandoffStatus.QUEUED.value)
                .order_by(Handoff.priority, Handoff.created_at, Handoff.id)
            )
            return [_handoff_record(row) for row in rows]

    def queue_entries(
        self, team: str | None = None, *, teams: Collection[str] | None = None
    ) -> list[QueueEntryRecord]:
        """The queue without the briefs: what ordering and wait estimates need, in queue order
        (most urgent first, then oldest), for one ``team``, the ``teams`` given, or all."""
        query = (
            select(
                Handoff.id, Handoff.conversation_id, Handoff.team, Handoff.priority,
                Handoff.created_at, Handoff.acknowledge_due,
            )
            .where(Handoff.status == HandoffStatus.QUEUED.value)
            .order_by(Handoff.priority, Handoff.created_at, Handoff.id)
        )  # fmt: skip
        if team is not None:
            query = query.where(Handoff.team == team)
        if teams is not None:
            query = query.where(Handoff.team.in_(list(teams)))
        with self._read() as session:
            return [QueueEntryRecord(*row) for row in session.execute(query)]

    def get_handoff(self, handoff_id: int, *, with_brief: bool = True) -> HandoffRecord | None:
        """The handoff with that id, or ``None``; ``with_brief=False`` leaves ``brief`` empty
        and never reads it (an agent's every message checks the handoff, and needs no brief)."""
        options = [] if with_brief else [defer(Handoff.brief, raiseload=True)]
        with self._read() as session:
            row = session.get(Handoff, handoff_id, options=options)
            return None if row is None else _handoff_record(row, with_brief=with_brief)

    def latest_handoff(self, conversation_id: str) -> HandoffRecord | None:
        """The conversation's most recent handoff, whatever its status, or ``None``."""
        with self._read() as session:
            row = session.scalars(_latest_handoff_of(conversation_id)).one_or_none()
            return None if row is None else _handoff_record(row)

    # --- internals ----------------------------------------------------------------------

    def _insert_replies(
        self,
        session: Session,
        conversation_id: str,
        replies: Sequence[NewMessage],
        now: datetime,
    ) -> list[MessageRecord]:
        # Messages of the bot, an agent or the system, in order, in the caller's transaction.
        stored = []
        for reply in replies:
            who = Sender(reply.sender)
            if who is Sender.CUSTOMER:
                raise ValueError("a reply cannot come from the customer")
            stored.append(
                self._insert_message(
                    session,
                    conversation_id,
                    sender=who,
                    text=reply.text,
                    client_message_id=None,
                    payload=dict(reply.payload),
                    now=now,
                )  # fmt: skip
            )
        return stored

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # One transaction: committed when the block ends, rolled back when it raises.
        with self._write() as session, session.begin():
            yield session

    def _transition_in(
        self,
        session: Session,
        conversation_id: str,
        *,
        allowed_from: Collection[str],
        to: str,
        reason: str,
        now: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> MessageRecord:
        # The state change and its system message, inside the caller's transaction.
        check_transition(allowed_from, to)
        now = _utc(now)
        extra = dict(detail or {})
        if clash := _EVENT_KEYS & extra.keys():
            raise ValueError(f"detail may not override {sorted(clash)}")
        target = ConversationState(to)
        allowed = frozenset(ConversationState(state) for state in allowed_from)
        current = session.scalars(
            select(Conversation.state).where(Conversation.id == conversation_id).with_for_update()
        ).one_or_none()
        if current is None:
            raise ConversationNotFound(conversation_id)
        source = ConversationState(current)
        if source not in allowed:
            raise IllegalTransition(
                conversation_id, current=source, wanted=target, allowed_from=allowed
            )
        changes: dict[str, Any] = {"state": target.value}
        if target is ConversationState.CLOSED:
            changes["closed_at"] = now
        payload = {
            "event": "state_changed",
            "from": source.value,
            "to": target.value,
            "reason": reason,
            **extra,
        }
        message = self._insert_message(
            session,
            conversation_id,
            sender=Sender.SYSTEM,
            text=f"Conversation moved from {source} to {target}: {reason}",
            client_message_id=None,
            payload=payload,
            now=now,
            changes=changes,
        )
        logger.info("conversation %s: %s -> %s (%s)", conversation_id, source, target, reason)
        return message

    def _add_handoff(
        self, session: Session, conversation_id: str, new: NewHandoff, *, now: datetime
    ) -> HandoffRecord:
        # A handoff in status queued, inside the caller's transaction.
        row = Handoff(
            conversation_id=conversation_id,
            status=HandoffStatus.QUEUED.value,
            reasons=copy.deepcopy(list(new.reasons)),
            score=float(new.score),
            severity=str(new.severity),
            category=str(new.category),
            team=new.team,
            priority=int(new.priority),
            mode=str(new.mode),
            acknowledge_due=_utc(new.acknowledge_due),
            resolve_due=_utc(new.resolve_due),
            created_at=_utc(now),
            brief=copy.deepcopy(dict(new.brief)),
            customer_notice=new.customer_notice,
            transfer_count=0,
        )
        if session.get(Conversation, conversation_id) is None:
            raise ConversationNotFound(conversation_id)
        session.add(row)
        session.flush()
        return _handoff_record(row)

    def _find_client_message(
        self, conversation_id: str, client_message_id: str
    ) -> MessageRecord | None:
        with self._read() as session:
            return _client_message(session, conversation_id, client_message_id)

    def _insert_message(
        self,
        session: Session,
        conversation_id: str,
        *,
        sender: Sender,
        text: str,
        client_message_id: str | None,
        payload: dict[str, Any],
        now: datetime,
        changes: Mapping[str, Any] | None = None,
    ) -> MessageRecord:
        # Taking the number first also locks the conversation (PostgreSQL) for the rest of
        # the transaction; ``changes`` are further columns to set in the same statement.
        next_seq = _NEXT_SEQ.values(**changes) if changes else _NEXT_SEQ
        seq = session.execute(
            next_seq, {"conversation_id": conversation_id, "now": now}
        ).scalar_one_or_none()
        if seq is None:
            raise ConversationNotFound(conversation_id)
        # A Core INSERT, not session.add() and a flush: every customer turn writes two or three
        # messages, and the unit of work cost more than the statement (nothing reads the row
        # back as an ORM object).
        message_id = session.execute(
            _INSERT_MESSAGE,
            {
                "conversation_id": conversation_id,
                "seq": seq,
                "sender": sender.value,
                "text": text,
                "client_message_id": client_message_id,
                "payload": payload,
                "created_at": now,
            },
        ).scalar_one()
        return MessageRecord(
            id=message_id,
            conversation_id=conversation_id,
            seq=seq,
            sender=sender,
            text=text,
            client_message_id=client_message_id,
            payload=copy.deepcopy(payload),
            created_at=now,
        )


def _conversation_in(session: Session, conversation_id: str) -> ConversationRecord | None:
    """The conversation as ``session``'s transaction sees it (a Core read: no identity map)."""
    row = session.execute(_CONVERSATION, {"conversation_id": conversation_id}).one_or_none()
    return None if row is None else _conversation_record(row)


def _client_message(
    session: Session, conversation_id: str, client_message_id: str
) -> MessageRecord | None:
    """The conversation's message with that client id, read in ``session``, or ``None``."""
    row = session.execute(
        _CLIENT_MESSAGE,
        {"conversation_id": conversation_id, "client_message_id": client_message_id},
    ).one_or_none()
    return None if row is None else _message_record(row)


def _merge_payload(session: Session, message_id: int, extra: Mapping[str, Any]) -> MessageRecord:
    """Merge ``extra`` into a message's payload (its keys win), in the caller's transaction.

    Core statements: the row is locked (PostgreSQL), read, merged and written without the ORM's
    identity map and unit of work, the larger part of the cost of a turn's last write.
    """
    row = session.execute(_MESSAGE_FOR_UPDATE, {"message_id": message_id}).one_or_none()
    if row is None:
        raise LookupError(f"no message {message_id}")
    payload = {**row.payload, **copy.deepcopy(dict(extra))}
    session.execute(_SET_PAYLOAD, {"message_id": message_id, "new_payload": payload})
    return _message_record(row, payload=payload)


def _latest_handoff_of(conversation_id: str) -> Select[tuple[Handoff]]:
    """The query for the conversation's most recent handoff, whatever its status."""
    return (
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.created_at.desc(), Handoff.id.desc())
        .limit(1)
    )


def _utc(moment: datetime) -> datetime:
    # Records show the same UTC time whether they come from the caller's values or a read.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware time (UTC)")
    return moment.astimezone(UTC)


def _conversation_record(row: Conversation | Row[Any]) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        customer_id=row.customer_id,
        customer_name=row.customer_name,
        tier=row.tier,
        channel=row.channel,
        state=ConversationState(row.state),
        last_seq=row.last_seq,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        resume_token_hash=row.resume_token_hash,
    )


def _message_record(
    row: Message | Row[Any], *, payload: Mapping[str, Any] | None = None
) -> MessageRecord:
    # An ORM object or a Core row of the messages table; ``payload`` replaces the row's.
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender=Sender(row.sender),
        text=row.text,
        client_message_id=row.client_message_id,
        payload=copy.deepcopy(row.payload if payload is None else dict(payload)),
        created_at=row.created_at,
    )


def _handoff_record(row: Handoff, *, with_brief: bool = True) -> HandoffRecord:
    return HandoffRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        status=HandoffStatus(row.status),
        reasons=copy.deepcopy(row.reasons),
        score=row.score,
        severity=row.severity,
        category=row.category,
        team=row.team,
        priority=row.priority,
        mode=row.mode,
        acknowledge_due=row.acknowledge_due,
        resolve_due=row.resolve_due,
        created_at=row.created_at,
        brief=copy.deepcopy(row.brief) if with_brief else {},
        customer_notice=row.customer_notice,
        agent_id=row.agent_id,
        assigned_at=row.assigned_at,
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        transfer_count=row.transfer_count,
        satisfaction_rating=row.satisfaction_rating,
        rated_at=row.rated_at,
    )
