"""Queue ordering and agent selection: pure, time passed in.

The queue is served most urgent first. Teams in auto-assign mode have their handoffs pushed to
the least busy eligible agent; teams in claim mode leave them for agents to take. Nothing here
writes: :func:`assignments` proposes pairs, and the store's atomic claim makes them stick, so
two service instances proposing the same agent or handoff cannot both win.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from handoff.escalation.decision import Severity, Tier
from handoff.store.states import HandoffStatus

__all__ = [
    "AgentState",
    "Presence",
    "QueueEntry",
    "RoutingMode",
    "assignments",
    "eligible",
    "next_team",
    "order_queue",
    "pick_agent",
]

Presence = Literal["online", "away", "offline"]

_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}  # sev1 first
_TIER_RANK = {Tier.PREMIUM: 0, Tier.PLUS: 1, Tier.STANDARD: 2}  # premium first


class RoutingMode(StrEnum):
    """How a team's queued handoffs reach its agents."""

    AUTO_ASSIGN = "auto_assign"  # pushed to the least busy eligible agent
    CLAIM = "claim"  # agents take them from the queue themselves


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One handoff in a team's queue."""

    handoff_id: int
    conversation_id: str
    team: str
    severity: Severity
    tier: Tier
    priority: int  # lower is more urgent (severity points + tier points)
    queued_at: datetime
    status: HandoffStatus


@dataclass(frozen=True, slots=True)
class AgentState:
    """What routing needs to know of one agent now.

    ``idle_since`` is when the agent last took a conversation or came online with none;
    ``None`` when unknown, which counts as having waited the least.
    """

    agent_id: str
    teams: frozenset[str]
    presence: Presence
    capacity: int
    active_chats: int
    idle_since: datetime | None


def order_queue(entries: Iterable[QueueEntry], now: datetime) -> list[QueueEntry]:
    """The entries still waiting (status queued), in the order they are served.

    By priority (lower first), then severity (sev1 first), then tier (premium first), then
    time waiting at ``now`` (longest first); the handoff id settles the rest, so the order
    never depends on the order the rows came in.
    """

    def key(entry: QueueEntry) -> tuple[int, int, int, timedelta, int]:
        waited = now - entry.queued_at
        return (
            entry.priority,
            _SEVERITY_RANK[entry.severity],
            _TIER_RANK[entry.tier],
            -waited,
            entry.handoff_id,
        )

    return sorted((e for e in entries if e.status == HandoffStatus.QUEUED), key=key)


def eligible(agent: AgentState, team: str) -> bool:
    """Whether ``agent`` may be given a conversation of ``team`` now."""
    return (
        agent.presence == "online" and team in agent.teams and agent.active_chats < agent.capacity
    )


def _least_busy_key(agent: AgentState) -> tuple[int, bool, float, str]:
    # Fewest active chats, not the lowest load ratio: how soon a customer hears back depends
    # on how many chats their agent juggles, not on that agent's ceiling, which stays a hard
    # limit through eligible(). Then the longest idle (an unknown idle time last), then the id.
    idle = agent.idle_since.timestamp() if agent.idle_since is not None else 0.0
    return (agent.active_chats, agent.idle_since is None, idle, agent.agent_id)


def pick_agent(agents: Iterable[AgentState], team: str) -> AgentState | None:
    """The eligible agent of ``team`` to auto-assign to, or ``None`` when nobody is."""
    candidates = [agent for agent in agents if eligible(agent, team)]
    if not candidates:
        return None
    return min(candidates, key=_least_busy_key)


def assignments(
    queue: Iterable[QueueEntry],
    agents: Iterable[AgentState],
    modes: Mapping[str, RoutingMode],
    now: datetime,
) -> list[tuple[int, str]]:
    """``(handoff_id, agent_id)`` pairs to auto-assign now, most urgent handoff first.

    Walks the ordered queue and gives each handoff of an auto-assign team to
    :func:`pick_agent`, counting each assignment against that agent at once (one more chat,
    idle since ``now``), so capacity holds across the pass and across teams an agent is in.
    A team missing from ``modes`` is a claim team: nobody is pushed work they did not opt in to.
    """
    pool = {agent.agent_id: agent for agent in agents}
    pairs: list[tuple[int, str]] = []
    for entry in order_queue(queue, now):
        if modes.get(entry.team, RoutingMode.CLAIM) != RoutingMode.AUTO_ASSIGN:
            continue
        agent = pick_agent(pool.values(), entry.team)
        if agent is None:
            continue
        pairs.append((entry.handoff_id, agent.agent_id))
        pool[agent.agent_id] = dataclasses.replace(
            agent, active_chats=agent.active_chats + 1, idle_since=now
        )
    return pairs


def next_team(team: str, fallback: Mapping[str, str]) -> str | None:
    """The team a breached handoff of ``team`` is re-routed to, or ``None`` for none.

    One hop only: a fallback that points back at ``team`` means there is nowhere else to go.
    """
    target = fallback.get(team)
    if target is None or target == team:
        return None
    return target
