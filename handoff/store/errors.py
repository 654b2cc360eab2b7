"""Errors the conversation store raises on purpose.

Hierarchy (all under :class:`handoff.exceptions.HandoffError`)::

    ConversationNotFound   no conversation has that id
    IllegalTransition      the conversation is not in a state the requested move starts from
    HandoffStateError      the handoff is not in a status the requested change starts from
    NotAssignedAgent       the handoff is assigned to another agent (or to none)

Database failures (connection lost, disk full) are not wrapped: they escape as SQLAlchemy's
own exceptions, which the edge reports as a dependency failure.
"""

from __future__ import annotations

from collections.abc import Collection

from handoff.exceptions import HandoffError


class ConversationNotFound(HandoffError):
    """No conversation has the given id."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no conversation {conversation_id!r}")
        self.conversation_id = conversation_id


class IllegalTransition(HandoffError):
    """The conversation's current state is not one the move may start from."""

    def __init__(
        self, conversation_id: str, *, current: str, wanted: str, allowed_from: Collection[str]
    ) -> None:
        expected = ", ".join(sorted(str(state) for state in allowed_from))
        super().__init__(
            f"conversation {conversation_id!r} is {current!s}, cannot move it to {wanted!s}"
            f" (allowed only from: {expected})"
        )
        self.conversation_id = conversation_id
        self.current = current
        self.wanted = wanted
        self.allowed_from = frozenset(allowed_from)


class HandoffStateError(HandoffError):
    """The handoff's current status is not one the requested change may start from."""

    def __init__(
        self, handoff_id: int, *, current: str, wanted: str, allowed_from: Collection[str]
    ) -> None:
        expected = ", ".join(sorted(str(status) for status in allowed_from))
        super().__init__(
            f"handoff {handoff_id} is {current!s}, cannot set it to {wanted!s}"
            f" (allowed only from: {expected})"
        )
        self.handoff_id = handoff_id
        self.current = current
        self.wanted = wanted
        self.allowed_from = frozenset(allowed_from)


class NotAssignedAgent(HandoffError):
    """Only the agent a handoff is assigned to may acknowledge, hand back or resolve it."""

    def __init__(self, handoff_id: int, *, assigned_to: str | None, agent_id: str) -> None:
        holder = "no agent" if assigned_to is None else f"agent {assigned_to!r}"
        super().__init__(f"handoff {handoff_id} is assigned to {holder}, not to {agent_id!r}")
        self.handoff_id = handoff_id
        self.assigned_to = assigned_to
        self.agent_id = agent_id
