"""The store's vocabulary: conversation states, senders, handoff statuses, agent roles,
resolution root causes and SLA events.

The allowed moves between conversation states are data (:data:`ALLOWED_TRANSITIONS`), checked
by :func:`check_transition` before the store touches the database and again, against the
stored state, inside the writing transaction. This module imports nothing but the standard
library, so pure code (the gateway's state machine, tests) can use it without a database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum


class ConversationState(StrEnum):
    """Who owns the conversation now."""

    BOT = "bot"  # the assistant answers
    QUEUED = "queued"  # waiting for a human agent; the assistant no longer answers
    AGENT = "agent"  # a human agent has it
    CLOSED = "closed"  # finished; nothing moves it again


class Sender(StrEnum):
    """Who wrote a message."""

    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"  # state changes and other events, written by the service itself


class HandoffStatus(StrEnum):
    """Life cycle of one handoff: queued -> assigned -> resolved, or cancelled while queued."""

    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class AgentRole(StrEnum):
    """What a human agent's account may do."""

    AGENT = "agent"  # takes handoffs of their teams
    SUPERVISOR = "supervisor"  # an agent who also oversees their teams' queues and agents


class ReviewStatus(StrEnum):
    """Where a message of the trainers' inbox stands. Nothing is deleted: a decision is a
    status with who made it and when."""

    OPEN = "open"  # waiting for a trainer
    ACCEPTED = "accepted"  # the assistant's intent was right: kept as an example of it
    RELABELLED = "relabelled"  # an example of another intent
    OUT_OF_SCOPE = "out_of_scope"  # an example of out_of_scope
    IGNORED = "ignored"  # not training material (noise, a test, personal chatter)


class RootCause(StrEnum):
    """Why a handoff was needed, as the resolving agent judges it."""

    PRODUCT_BUG = "product_bug"
    POLICY_AMBIGUITY = "policy_ambiguity"
    AGENT_KNOWLEDGE_GAP = "agent_knowledge_gap"
    PROCESS_FAILURE = "process_failure"
    OTHER = "other"


class SlaEventKind(StrEnum):
    """What happened to an SLA target."""

    WARNING = "warning"  # past the warning point of its interval, still open
    BREACH = "breach"  # past due


class SlaTarget(StrEnum):
    """Which of a handoff's two SLA targets."""

    ACKNOWLEDGE = "acknowledge"  # an agent picks the handoff up
    RESOLVE = "resolve"  # the issue is solved


_S = ConversationState

ALLOWED_TRANSITIONS: Mapping[ConversationState, frozenset[ConversationState]] = {
    _S.BOT: frozenset({_S.QUEUED, _S.CLOSED}),
    _S.QUEUED: frozenset({_S.AGENT, _S.BOT, _S.CLOSED}),  # queued -> bot: handoff cancelled
    # agent -> bot: the agent hands the customer back; agent -> queued: the agent transfers
    # the customer to another team, or disconnects for longer than the grace period.
    _S.AGENT: frozenset({_S.BOT, _S.QUEUED, _S.CLOSED}),
    _S.CLOSED: frozenset(),  # terminal
}
"""Every legal move: ``to in ALLOWED_TRANSITIONS[from]``. Any open state may close."""


def check_transition(allowed_from: Collection[str], to: str) -> None:
    """Refuse, with ``ValueError``, a request that the graph could never grant.

    A caller asking for ``bot -> agent`` has a bug whatever the stored state is, so this is
    a programming error, unlike :class:`handoff.store.errors.IllegalTransition`, which says
    the conversation is not in a state the caller expected.
    """
    target = ConversationState(to)
    if not allowed_from:
        raise ValueError("allowed_from is empty: no state could be left")
    for state in allowed_from:
        source = ConversationState(state)
        if target not in ALLOWED_TRANSITIONS[source]:
            raise ValueError(f"the state graph has no transition {source} -> {target}")
