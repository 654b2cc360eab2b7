"""Agents' access tokens: what a login hands out and every agent request carries.

A token is a JWT signed with HS256 under ``HANDOFF_AGENTS__TOKEN_SECRET``
(:class:`handoff.settings.AgentSettings`), a secret only this service knows, with claims::

    {"typ": "agent", "sub": "<agent id>", "role": "supervisor", "teams": ["security"],
     "iat": 1732700000, "exp": 1732728800}

``typ`` keeps the two kinds of token the service checks apart: a customer's identity token
(:mod:`handoff.gateway.identity`) has no ``typ`` and is refused here as ``wrong_type``, and the
identity check refuses a token whose ``typ`` is ``"agent"``, even were both signed with one
secret. Like identity tokens, issuing and checking take the clock as an argument.

``role`` and ``teams`` are what the account said at login; routes that act on an account read
the store again (an agent deactivated mid-shift is refused at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr

from handoff.agents.accounts import AgentRecord
from handoff.agents.exceptions import AgentTokenRejected
from handoff.signed_tokens import (
    DEFAULT_LEEWAY,
    check_lifetime,
    decode_signed,
    require_aware,
    sign,
)
from handoff.store.states import AgentRole

__all__ = [
    "AGENT_TOKEN_TYPE",
    "AgentClaims",
    "AgentTokenRejected",
    "issue_agent_token",
    "verify_agent_token",
]

WHAT = "agent token"  # how errors name this kind of token
AGENT_TOKEN_TYPE = "agent"
"""The ``typ`` claim of every agent token."""
REQUIRED_CLAIMS = ("sub", "role", "teams", "iat", "exp")
MAX_LIFETIME = timedelta(hours=24)
"""The longest lifetime of an agent token that any setting allows."""


@dataclass(frozen=True, slots=True)
class AgentClaims:
    """What a valid agent token says about its bearer."""

    agent_id: str
    role: AgentRole
    teams: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


def issue_agent_token(
    agent: AgentRecord, *, secret: str | SecretStr, now: datetime, ttl: timedelta
) -> str:
    """An access token for ``agent``, valid from ``now`` for ``ttl``.

    Raises:
        ValueError: ``now`` is naive, ``ttl`` is not positive or ``secret`` is empty.
    """
    require_aware(now)
    if ttl <= timedelta(0):
        raise ValueError(f"ttl must be positive, got {ttl}")
    claims: dict[str, Any] = {
        "typ": AGENT_TOKEN_TYPE,
        "sub": agent.id,
        "role": agent.role.value,
        "teams": list(agent.teams),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return sign(claims, secret, WHAT)


def verify_agent_token(
    token: str,
    *,
    secret: str | SecretStr,
    now: datetime,
    max_lifetime: timedelta = MAX_LIFETIME,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> AgentClaims:
    """The claims of ``token`` if it is an agent token signed with ``secret``, valid at ``now``.

    A token is accepted until ``exp + leeway``, and only while its lifetime is bounded: one
    issued for longer than ``max_lifetime`` (the service passes its own token lifetime), or
    expiring further ahead of ``now`` than that, is refused as ``too_long``, so a token forged
    with a stolen secret or issued by mistake cannot last for years.

    Raises:
        AgentTokenRejected: with reason ``bad_signature`` (wrong secret, altered token, or an
            algorithm other than HS256), ``wrong_type`` (signed, but not an agent token),
            ``missing_claim``, ``malformed`` (not a JWT, or a claim of the wrong type),
            ``too_long`` or ``expired``.
        ValueError: ``now`` is naive.
    """
    require_aware(now)
    claims = decode_signed(token, secret, what=WHAT, reject=AgentTokenRejected)
    if claims.get("typ") != AGENT_TOKEN_TYPE:
        raise AgentTokenRejected(
            "wrong_type", f"not an agent token (typ {claims.get('typ')!r}, not 'agent')"
        )
    missing = [claim for claim in REQUIRED_CLAIMS if claims.get(claim) is None]
    if missing:
        raise AgentTokenRejected("missing_claim", f"agent token lacks {', '.join(missing)}")
    agent_id, role, teams = _identity_claims(claims)
    issued_at, expires_at = check_lifetime(
        claims, now=now, leeway=leeway, what=WHAT, reject=AgentTokenRejected
    )
    if expires_at - issued_at > max_lifetime or expires_at > now + max_lifetime + leeway:
        raise AgentTokenRejected(
            "too_long", f"agent token lifetime exceeds {max_lifetime} (expires {expires_at})"
        )
    return AgentClaims(
        agent_id=agent_id, role=role, teams=teams, issued_at=issued_at, expires_at=expires_at
    )


def _identity_claims(claims: dict[str, Any]) -> tuple[str, AgentRole, tuple[str, ...]]:
    subject, role, teams = claims["sub"], claims["role"], claims["teams"]
    if not isinstance(subject, str) or not subject.strip():
        raise AgentTokenRejected("malformed", "agent token 'sub' is not an agent id")
    try:
        agent_role = AgentRole(role)
    except ValueError:
        raise AgentTokenRejected("malformed", f"agent token 'role' {role!r} is unknown") from None
    if not isinstance(teams, list) or not all(isinstance(team, str) for team in teams):
        raise AgentTokenRejected("malformed", "agent token 'teams' is not a list of names")
    return subject, agent_role, tuple(teams)
