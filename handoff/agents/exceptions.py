"""Errors of the agents' accounts and access tokens.

Hierarchy (all under :class:`handoff.exceptions.HandoffError`)::

    AgentError              base class of the errors below
    ├── InvalidAgent        an account that may not be created as asked (also a ValueError):
    │   │                   a bad username, an empty team list, a short password...
    │   └── UnknownTeam     a team the escalation matrix does not route to
    ├── AgentExists         the username is taken
    ├── AgentTokenRejected  an access token that cannot be trusted; ``reason_code`` says why
    └── DeskRefusal         the agent desk refused an agent's action on a handoff; ``code``
                            says why (the agent socket sends it as an ``error`` frame)

A failed login is not an error: :meth:`handoff.agents.accounts.AgentStore.authenticate`
returns ``None``. The routes turn these into HTTP statuses, the CLI into exit codes.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

from handoff.exceptions import HandoffError
from handoff.signed_tokens import TokenRejected

TokenRejection = Literal[
    "expired", "bad_signature", "malformed", "missing_claim", "wrong_type", "too_long"
]
"""Why an agent token was refused; ``wrong_type`` is a signed token that is not an agent's
(a customer's identity token, for instance)."""


class AgentError(HandoffError):
    """Base class of the agents' errors."""


class InvalidAgent(AgentError, ValueError):
    """The account cannot be created as asked; ``str(error)`` says what to send instead."""


class UnknownTeam(InvalidAgent):
    """A team name the escalation policy's matrix never routes to."""

    def __init__(self, unknown: Collection[str], known: Collection[str]) -> None:
        super().__init__(
            f"unknown team(s) {', '.join(sorted(unknown))}; the escalation matrix routes to: "
            f"{', '.join(sorted(known))}"
        )
        self.unknown = frozenset(unknown)
        self.known = frozenset(known)


class AgentExists(AgentError):
    """An agent with that username exists already (usernames are case-insensitive)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"an agent named {username!r} exists already")
        self.username = username


class AgentTokenRejected(AgentError, TokenRejected):
    """An agent access token that cannot be trusted.

    ``reason_code`` is one of ``"expired"``, ``"bad_signature"``, ``"malformed"``,
    ``"missing_claim"``, ``"wrong_type"``; ``str(error)`` says what was wrong, for logs.
    """

    def __init__(self, reason_code: TokenRejection, message: str) -> None:
        super().__init__(reason_code, message)
        self.reason_code: TokenRejection = reason_code


DeskRefusalCode = Literal[
    "not_found",
    "not_assigned",
    "wrong_state",
    "acknowledge_first",
    "unknown_team",
    "invalid",
    "not_stored",
]
"""Why the desk refused an action: ``not_found`` (no such handoff, or not one this agent may
see), ``not_assigned`` (held by someone else), ``wrong_state`` (not queued or not assigned any
more), ``acknowledge_first`` (a warm handoff not yet acknowledged), ``unknown_team``,
``invalid`` (a value the store refuses), ``not_stored`` (the database is unavailable)."""


class DeskRefusal(AgentError):
    """The agent desk refused an action; nothing was written. ``str(error)`` says what to do."""

    def __init__(self, code: DeskRefusalCode, message: str) -> None:
        super().__init__(message)
        self.code: DeskRefusalCode = code
        self.message = message
