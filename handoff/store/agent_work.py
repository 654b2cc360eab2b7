"""The agents' work on handoffs: claim, acknowledge, transfer, release, hand back, resolve.

:class:`AgentWorkStore` sits beside :class:`~handoff.store.repository.ConversationStore` on
the same database and follows its rules: synchronous methods, one transaction per write,
frozen records out, ``now`` from the caller. A change of a handoff that moves its
conversation (claim: ``queued -> agent``; transfer and release: ``agent -> queued``; hand
back and resolve: ``agent -> bot``) writes the handoff, the new state and its system message
in one transaction, or nothing.

Claims are atomic in the database, so two agents or two service instances never take the same
customer. :meth:`AgentWorkStore.claim_handoff` is a compare-and-set, ``UPDATE handoffs SET
status = 'assigned' ... WHERE id = :id AND status = 'queued' RETURNING id``: on PostgreSQL a
second updater waits for the first one's row lock, then finds the status changed and updates
nothing; on SQLite writers are serialised by ``BEGIN IMMEDIATE``. :meth:`claim_next` picks
the most urgent queued handoff with ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1`` on
PostgreSQL (concurrent claimers take different rows instead of queueing on one); SQLite has
no row locks, and needs none under its database-wide write lock.

Every write locks the handoff before the conversation, so two writers never wait on each
other in opposite orders. Everything the service restores after a restart (the queue, the
assignments, the SLA clocks and the events already recorded) is in these tables; see
:meth:`open_handoffs` and :meth:`sla_events_for`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from handoff.store.database import for_writing, session_factory
from handoff.store.errors import HandoffStateError, NotAssignedAgent
from handoff.store.models import Conversation, Handoff, Message, Resolution, SlaEvent
from handoff.store.repository import ConversationStore, HandoffRecord, _handoff_record, _utc
from handoff.store.states import (
    ConversationState,
    HandoffStatus,
    RootCause,
    Sender,
    SlaEventKind,
    SlaTarget,
)

__all__ = [
    "AgentWorkStore",
    "ResolutionInput",
    "ResolutionRecord",
    "ResolvedHandoff",
    "SlaEventRecord",
    "TrainingExample",
]

logger = logging.getLogger(__name__)

_TRIGGER_MAX = 64  # the columns' lengths, checked here so SQLite refuses what PostgreSQL would
_INTENT_MAX = 100
_TEAM_MAX = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolutionInput:
    """What the resolving agent records. ``within_sla`` is not here: the store computes it.

    ``trigger`` is prefilled by the caller from the handoff's reason codes.
    ``misunderstood_message_seq`` is the seq of the customer message the bot got wrong, and
    ``correct_intent`` the intent it should have recognised; both are optional.
    """

    trigger: str
    avoidable: bool
    root_cause: str
    note: str = ""
    correct_intent: str | None = None
    misunderstood_message_seq: int | None = None


@dataclass(frozen=True, slots=True)
class ResolutionRecord:
    """A resolution as stored."""

    id: int
    handoff_id: int
    trigger: str
    avoidable: bool
    within_sla: bool
    root_cause: RootCause
    correct_intent: str | None
    misunderstood_message_seq: int | None
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ResolvedHandoff:
    """What :meth:`AgentWorkStore.resolve_handoff` wrote."""

    handoff: HandoffRecord
    resolution: ResolutionRecord


@dataclass(frozen=True, slots=True)
class SlaEventRecord:
    """A recorded warning or breach of one SLA target."""

    id: int
    handoff_id: int
    kind: SlaEventKind
    target: SlaTarget
    at: datetime


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """A resolution that names the intent the bot should have recognised, for its trainers.

    ``message_text`` is the text of message ``message_seq`` of the conversation, ``None``
    when the agent named no message.
    """

    handoff_id: int
    conversation_id: str
    correct_intent: str
    message_seq: int | None
    message_text: str | None
    root_cause: RootCause
    note: str
    created_at: datetime


class AgentWorkStore:
    """The agents' side of handoffs in the service's database (thread-safe).

    Unknown handoff ids raise ``LookupError``; a handoff in the wrong status raises
    :class:`HandoffStateError`; a change only its agent may make, asked by another, raises
    :class:`NotAssignedAgent`; a conversation in the wrong state raises
    :class:`~handoff.store.errors.IllegalTransition`. In every case nothing is written.
    """

    def __init__(self, engine: Engine) -> None:
        # Its transition helper writes the state change and system message in our session.
        self._conversations = ConversationStore(engine)
        self._read = session_factory(engine)
        self._write = session_factory(for_writing(engine))
        self._dialect = engine.dialect.name

    # --- claiming -----------------------------------------------------------------------

    def claim_handoff(
        self, handoff_id: int, *, agent_id: str, agent_name: str, now: datetime
    ) -> HandoffRecord | None:
        """Assign the queued handoff to the agent, or return ``None`` if it is not queued
        (another claimer won, or it was cancelled).

        Of any number of concurrent claimers exactly one wins. With the claim the
        conversation moves ``queued -> agent`` (system message detail ``{"handoff_id",
        "agent_id", "agent_name"}``).
        """
        now = _utc(now)
        with self._writing() as session:
            claimed = self._assign_in(session, handoff_id, agent_id, agent_name, now)
            if claimed is None and session.get(Handoff, handoff_id) is None:
                raise LookupError(f"no handoff {handoff_id}")
            return claimed

    def claim_next(
        self, *, agent_id: str, agent_name: str, teams: Collection[str], now: datetime
    ) -> HandoffRecord | None:
        """Claim the most urgent queued handoff of ``teams`` (by priority, then oldest
        first), or return ``None`` when none is queued. As :meth:`claim_handoff` otherwise."""
        if isinstance(teams, str):
            raise TypeError("teams is a collection of team names, not one name")
        wanted = sorted(set(teams))
        if not wanted:
            return None
        now = _utc(now)
        with self._writing() as session:
            # SKIP LOCKED: a row another claimer holds is passed over, not waited for. SQLite
            # renders no FOR UPDATE; its write lock already makes this select-and-update one
            # step.
            candidate = session.scalars(
                select(Handoff.id)
                .where(Handoff.status == HandoffStatus.QUEUED.value, Handoff.team.in_(wanted))
                .order_by(Handoff.priority, Handoff.created_at, Handoff.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if candidate is None:
                return None
            return self._assign_in(session, candidate, agent_id, agent_name, now)

    # --- an assigned handoff ------------------------------------------------------------

    def acknowledge_handoff(
        self, handoff_id: int, *, agent_id: str, now: datetime
    ) -> HandoffRecord:
        """Record the agent's acknowledgement (the SLA's): set once, later calls change
        nothing, even after a transfer to another agent. Only the assigned agent may."""
        now = _utc(now)
        with self._writing() as session:
            row = self._assigned(session, handoff_id, agent_id, wanted="acknowledged")
            if row.acknowledged_at is None:
                row.acknowledged_at = now
                session.flush()
                logger.info("handoff %s acknowledged by agent %s", handoff_id, agent_id)
            return _handoff_record(row)

    def transfer_handoff(
        self, handoff_id: int, *, to_team: str, reason: str, now: datetime
    ) -> HandoffRecord:
        """Send the assigned handoff back to the queue of ``to_team``.

        Status ``queued``, no agent, ``transfer_count`` + 1; its brief, priority, due times and
        ``created_at`` stay. The conversation moves ``agent -> queued`` with ``reason``
        (detail ``{"handoff_id", "from_team", "to_team"}``).
        """
        _check_team(to_team)
        now = _utc(now)
        with self._writing() as session:
            row = self._locked(session, handoff_id)
            _require_status(row, {HandoffStatus.ASSIGNED}, HandoffStatus.QUEUED)
            from_team = row.team
            self._unassign(row)
            row.team = to_team
            row.transfer_count += 1
            session.flush()
            self._move(
                session,
                row,
                ConversationState.AGENT,
                ConversationState.QUEUED,
                reason=reason,
                now=now,
                detail={"from_team": from_team, "to_team": to_team},
            )
            return _handoff_record(row)

    def release_handoff(self, handoff_id: int, *, reason: str, now: datetime) -> HandoffRecord:
        """Put the assigned handoff back in its queue (its agent left past the grace period).

        It keeps its ``created_at``, so it goes ahead of everything of its priority queued
        after it. The conversation moves ``agent -> queued`` with ``reason`` (detail
        ``{"handoff_id", "agent_id"}``, the agent it had).
        """
        now = _utc(now)
        with self._writing() as session:
            row = self._locked(session, handoff_id)
            _require_status(row, {HandoffStatus.ASSIGNED}, HandoffStatus.QUEUED)
            previous = row.agent_id
            self._unassign(row)
            session.flush()
            self._move(
                session,
                row,
                ConversationState.AGENT,
                ConversationState.QUEUED,
                reason=reason,
                now=now,
                detail={"agent_id": previous},
            )
            return _handoff_record(row)

    def hand_back_to_bot(
        self, handoff_id: int, *, agent_id: str, summary: str, now: datetime
    ) -> HandoffRecord:
        """The agent gives the customer back to the assistant: the handoff is resolved and
        the conversation moves ``agent -> bot`` (detail ``{"handoff_id", "agent_id",
        "summary"}``). Only the assigned agent may."""
        now = _utc(now)
        with self._writing() as session:
            row = self._assigned(session, handoff_id, agent_id, wanted=HandoffStatus.RESOLVED)
            row.status = HandoffStatus.RESOLVED.value
            row.resolved_at = now
            session.flush()
            self._move(
                session,
                row,
                ConversationState.AGENT,
                ConversationState.BOT,
                reason="handed_back",
                now=now,
                detail={"agent_id": agent_id, "summary": summary},
            )
            return _handoff_record(row)

    def resolve_handoff(
        self, handoff_id: int, *, agent_id: str, resolution: ResolutionInput, now: datetime
    ) -> ResolvedHandoff:
        """Resolve the assigned handoff and record how it ended. Only the assigned agent may.

        ``within_sla`` is ``now <= resolve_due``. The conversation moves ``agent -> bot``
        (detail ``{"handoff_id", "agent_id"}``), unless the customer already closed it.
        ``ValueError`` for an unknown root cause, overlong text, or a
        ``misunderstood_message_seq`` that is not a customer message of the conversation.
        """
        root_cause = RootCause(resolution.root_cause)
        _check_resolution(resolution)
        now = _utc(now)
        with self._writing() as session:
            row = self._assigned(session, handoff_id, agent_id, wanted=HandoffStatus.RESOLVED)
            seq = resolution.misunderstood_message_seq
            if seq is not None:
                sender = session.scalar(
                    select(Message.sender).where(
                        Message.conversation_id == row.conversation_id, Message.seq == seq
                    )
                )
                if sender != Sender.CUSTOMER.value:
                    raise ValueError(
                        f"misunderstood_message_seq {seq} is not a customer message of"
                        f" conversation {row.conversation_id}"
                    )
            row.status = HandoffStatus.RESOLVED.value
            row.resolved_at = now
            stored = Resolution(
                handoff_id=row.id,
                trigger=resolution.trigger,
                avoidable=bool(resolution.avoidable),
                within_sla=now <= row.resolve_due,
                root_cause=root_cause.value,
                correct_intent=resolution.correct_intent,
                misunderstood_message_seq=seq,
                note=resolution.note,
                created_at=now,
            )
            session.add(stored)
            session.flush()
            state = session.scalar(
                select(Conversation.state).where(Conversation.id == row.conversation_id)
            )
            if state != ConversationState.CLOSED.value:
                self._move(
                    session,
                    row,
                    ConversationState.AGENT,
                    ConversationState.BOT,
                    reason="resolved",
                    now=now,
                    detail={"agent_id": agent_id},
                )
            return ResolvedHandoff(handoff=_handoff_record(row), resolution=_resolution(stored))

    # --- SLA breach actions -------------------------------------------------------------

    def record_sla_event(self, handoff_id: int, *, kind: str, target: str, at: datetime) -> bool:
        """Record a warning or breach of one target; ``True`` if it is new, ``False`` if it
        was recorded before (by this or a concurrent caller: the unique constraint decides)."""
        values = {
            "handoff_id": handoff_id,
            "kind": SlaEventKind(kind).value,
            "target": SlaTarget(target).value,
            "at": _utc(at),
        }
        with self._writing() as session:
            if session.scalar(select(Handoff.id).where(Handoff.id == handoff_id)) is None:
                raise LookupError(f"no handoff {handoff_id}")
            if self._dialect in ("postgresql", "sqlite"):
                dialect_insert = (
                    postgresql.insert if self._dialect == "postgresql" else sqlite.insert
                )
                statement = (
                    dialect_insert(SlaEvent)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=["handoff_id", "kind", "target"])
                    .returning(SlaEvent.id)
                )
                recorded = session.execute(statement).scalar_one_or_none() is not None
            else:  # any other backend: a savepoint around a plain insert
                try:
                    with session.begin_nested():
                        session.execute(insert(SlaEvent).values(**values))
                    recorded = True
                except IntegrityError:
                    recorded = False
        if recorded:
            logger.info("handoff %s: SLA %s of %s recorded", handoff_id, kind, target)
        return recorded

    def sla_events_for(self, handoff_id: int) -> list[SlaEventRecord]:
        """The handoff's recorded SLA events, oldest first."""
        with self._read() as session:
            rows = session.scalars(
                select(SlaEvent)
                .where(SlaEvent.handoff_id == handoff_id)
                .order_by(SlaEvent.at, SlaEvent.id)
            )
            return [_sla_event(row) for row in rows]

    def bump_priority(self, handoff_id: int, *, by: int) -> HandoffRecord:
        """Move an open (queued or assigned) handoff up its queue: priority - ``by`` (lower
        is served first). ``by`` must not be negative."""
        if by < 0:
            raise ValueError(f"by must not be negative, got {by}")
        with self._writing() as session:
            row = self._locked(session, handoff_id)
            _require_status(row, {HandoffStatus.QUEUED, HandoffStatus.ASSIGNED}, "reprioritised")
            row.priority -= by
            session.flush()
            logger.info("handoff %s: priority bumped by %s to %s", handoff_id, by, row.priority)
            return _handoff_record(row)

    def reroute(self, handoff_id: int, *, to_team: str) -> HandoffRecord:
        """Move a queued handoff to the queue of ``to_team`` (an assigned one is moved with
        :meth:`transfer_handoff` instead, which takes it from its agent)."""
        _check_team(to_team)
        with self._writing() as session:
            row = self._locked(session, handoff_id)
            _require_status(row, {HandoffStatus.QUEUED}, "rerouted")
            from_team, row.team = row.team, to_team
            session.flush()
            logger.info("handoff %s rerouted from %s to %s", handoff_id, from_team, to_team)
            return _handoff_record(row)

    # --- reading ------------------------------------------------------------------------

    def assigned_handoffs(self, agent_id: str) -> list[HandoffRecord]:
        """The handoffs now assigned to the agent, in the order they were claimed."""
        with self._read() as session:
            rows = session.scalars(
                select(Handoff)
                .where(Handoff.status == HandoffStatus.ASSIGNED.value, Handoff.agent_id == agent_id)
                .order_by(Handoff.assigned_at, Handoff.id)
            )
            return [_handoff_record(row) for row in rows]

    def open_handoffs(self, *, with_briefs: bool = True) -> list[HandoffRecord]:
        """Every queued or assigned handoff, in queue order (priority, oldest, id): what the
        service restores after a restart.

        ``with_briefs=False`` leaves every ``brief`` empty and never reads them: the SLA
        monitor scans every open handoff every few seconds and needs none of them.
        """
        open_statuses = (HandoffStatus.QUEUED.value, HandoffStatus.ASSIGNED.value)
        query = (
            select(Handoff)
            .where(Handoff.status.in_(open_statuses))
            .order_by(Handoff.priority, Handoff.created_at, Handoff.id)
        )
        if not with_briefs:
            query = query.options(defer(Handoff.brief, raiseload=True))
        with self._read() as session:
            rows = session.scalars(query)
            return [_handoff_record(row, with_brief=with_briefs) for row in rows]

    def handoffs_queued_since(self, since: datetime) -> list[HandoffRecord]:
        """Every handoff first queued at or after ``since``, whatever its status now, oldest
        first; without briefs (the supervisor's daily counts need none)."""
        query = (
            select(Handoff)
            .where(Handoff.created_at >= since)
            .order_by(Handoff.created_at, Handoff.id)
            .options(defer(Handoff.brief, raiseload=True))
        )
        with self._read() as session:
            return [_handoff_record(row, with_brief=False) for row in session.scalars(query)]

    def queued_customers(self) -> dict[int, tuple[str | None, str | None]]:
        """``(name, tier)`` of the customer of every queued handoff, by handoff id, read from
        inside the briefs by the database: a supervisor's page asks every few seconds, and
        parsing every brief for two fields would cost more than the page."""
        customer = Handoff.brief["customer"]
        query = select(
            Handoff.id, customer["name"].as_string(), customer["tier"].as_string()
        ).where(Handoff.status == HandoffStatus.QUEUED.value)
        with self._read() as session:
            return {row[0]: (row[1], row[2]) for row in session.execute(query)}

    def open_sla_events(self) -> dict[int, list[SlaEventRecord]]:
        """The recorded SLA events of every open handoff, by handoff id, oldest first."""
        open_statuses = (HandoffStatus.QUEUED.value, HandoffStatus.ASSIGNED.value)
        events: dict[int, list[SlaEventRecord]] = {}
        with self._read() as session:
            rows = session.scalars(
                select(SlaEvent)
                .join(Handoff, Handoff.id == SlaEvent.handoff_id)
                .where(Handoff.status.in_(open_statuses))
                .order_by(SlaEvent.at, SlaEvent.id)
            )
            for row in rows:
                events.setdefault(row.handoff_id, []).append(_sla_event(row))
        return events

    def staff_messages_since(
        self, since: dict[str, datetime]
    ) -> dict[str, list[tuple[str, datetime, dict[str, Any]]]]:
        """``(sender, created_at, payload)`` of the agent and system messages of each
        conversation in ``since`` from its given time on, oldest first: what the SLA monitor
        needs to know what the customer last heard, in one query for all of them."""
        if not since:
            return {}
        earliest = min(since.values())
        found: dict[str, list[tuple[str, datetime, dict[str, Any]]]] = {}
        with self._read() as session:
            rows = session.execute(
                select(Message.conversation_id, Message.sender, Message.created_at, Message.payload)
                .where(
                    Message.conversation_id.in_(list(since)),
                    Message.sender.in_([Sender.AGENT.value, Sender.SYSTEM.value]),
                    Message.created_at >= earliest,
                )
                .order_by(Message.conversation_id, Message.seq)
            )
            for conversation_id, sender, created_at, payload in rows:
                if created_at >= since[conversation_id]:
                    found.setdefault(conversation_id, []).append((sender, created_at, payload))
        return found

    def get_resolution(self, handoff_id: int) -> ResolutionRecord | None:
        """The handoff's resolution, or ``None``."""
        with self._read() as session:
            row = session.scalars(
                select(Resolution).where(Resolution.handoff_id == handoff_id)
            ).one_or_none()
            return None if row is None else _resolution(row)

    def resolutions_for_training(self) -> list[TrainingExample]:
        """Resolutions that name a ``correct_intent``, oldest first, each with the text of the
        message the bot misunderstood (when the agent named one)."""
        with self._read() as session:
            rows = session.execute(
                select(Resolution, Handoff.conversation_id, Message.text)
                .join(Handoff, Handoff.id == Resolution.handoff_id)
                .outerjoin(
                    Message,
                    and_(
                        Message.conversation_id == Handoff.conversation_id,
                        Message.seq == Resolution.misunderstood_message_seq,
                    ),
                )
                .where(Resolution.correct_intent.is_not(None))
                .order_by(Resolution.created_at, Resolution.id)
            )
            examples = []
            for resolution, conversation_id, text in rows:
                assert resolution.correct_intent is not None  # the WHERE clause
                examples.append(
                    TrainingExample(
                        handoff_id=resolution.handoff_id,
                        conversation_id=conversation_id,
                        correct_intent=resolution.correct_intent,
                        message_seq=resolution.misunderstood_message_seq,
                        message_text=text,
                        root_cause=RootCause(resolution.root_cause),
                        note=resolution.note,
                        created_at=resolution.created_at,
                    )
                )
            return examples

    # --- internals ----------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # One transaction: committed when the block ends, rolled back when it raises.
        with self._write() as session, session.begin():
            yield session

    def _assign_in(
        self, session: Session, handoff_id: int, agent_id: str, agent_name: str, now: datetime
    ) -> HandoffRecord | None:
        # The compare-and-set: only a row still queued is updated, whoever else is trying.
        claimed = session.execute(
            update(Handoff)
            .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.QUEUED.value)
            .values(status=HandoffStatus.ASSIGNED.value, agent_id=agent_id, assigned_at=now)
            .returning(Handoff.id),
            execution_options={"synchronize_session": False},
        ).scalar_one_or_none()
        if claimed is None:
            return None
        row = session.get(Handoff, handoff_id, populate_existing=True)
        assert row is not None  # updated in this transaction
        self._move(
            session,
            row,
            ConversationState.QUEUED,
            ConversationState.AGENT,
            reason="agent_claimed",
            now=now,
            detail={"agent_id": agent_id, "agent_name": agent_name},
        )
        logger.info("handoff %s claimed by agent %s", handoff_id, agent_id)
        return _handoff_record(row)

    def _locked(self, session: Session, handoff_id: int) -> Handoff:
        row = session.scalars(
            select(Handoff).where(Handoff.id == handoff_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise LookupError(f"no handoff {handoff_id}")
        return row

    def _assigned(
        self, session: Session, handoff_id: int, agent_id: str, *, wanted: str
    ) -> Handoff:
        # The locked handoff, if it is assigned to this agent.
        row = self._locked(session, handoff_id)
        _require_status(row, {HandoffStatus.ASSIGNED}, wanted)
        if row.agent_id != agent_id:
            raise NotAssignedAgent(handoff_id, assigned_to=row.agent_id, agent_id=agent_id)
        return row

    @staticmethod
    def _unassign(row: Handoff) -> None:
        # Back to the queue. acknowledged_at stays: it is the SLA's first acknowledgement.
        row.status = HandoffStatus.QUEUED.value
        row.agent_id = None
        row.assigned_at = None

    def _move(
        self,
        session: Session,
        row: Handoff,
        source: ConversationState,
        target: ConversationState,
        *,
        reason: str,
        now: datetime,
        detail: dict[str, Any],
    ) -> None:
        # The conversation's state change and system message, in this transaction.
        self._conversations._transition_in(
            session,
            row.conversation_id,
            allowed_from=[source.value],
            to=target.value,
            reason=reason,
            now=now,
            detail={"handoff_id": row.id, **detail},
        )


def _require_status(row: Handoff, allowed: Collection[HandoffStatus], wanted: str) -> None:
    current = HandoffStatus(row.status)
    if current not in allowed:
        raise HandoffStateError(row.id, current=current, wanted=wanted, allowed_from=allowed)


def _check_team(team: str) -> None:
    if not team or len(team) > _TEAM_MAX:
        raise ValueError(f"a team name has 1 to {_TEAM_MAX} characters, got {team!r}")


def _check_resolution(resolution: ResolutionInput) -> None:
    if not resolution.trigger or len(resolution.trigger) > _TRIGGER_MAX:
        raise ValueError(f"trigger must have 1 to {_TRIGGER_MAX} characters")
    intent = resolution.correct_intent
    if intent is not None and (not intent or len(intent) > _INTENT_MAX):
        raise ValueError(f"correct_intent must be None or have 1 to {_INTENT_MAX} characters")


def _resolution(row: Resolution) -> ResolutionRecord:
    return ResolutionRecord(
        id=row.id,
        handoff_id=row.handoff_id,
        trigger=row.trigger,
        avoidable=row.avoidable,
        within_sla=row.within_sla,
        root_cause=RootCause(row.root_cause),
        correct_intent=row.correct_intent,
        misunderstood_message_seq=row.misunderstood_message_seq,
        note=row.note,
        created_at=row.created_at,
    )


def _sla_event(row: SlaEvent) -> SlaEventRecord:
    return SlaEventRecord(
        id=row.id,
        handoff_id=row.handoff_id,
        kind=SlaEventKind(row.kind),
        target=SlaTarget(row.target),
        at=row.at,
    )
