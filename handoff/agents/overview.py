"""The supervisor's overview: pure, time passed in.

What a team lead watches: the live queue of every team, every agent's presence and load, the
SLA warnings and breaches of open handoffs, and today's escalations by reason. The route reads
the store and the desk and hands the facts to :func:`build_overview`; this module only counts
and sorts, so every figure on the supervisor page is testable without a server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from handoff.agents.accounts import AgentRecord
from handoff.agents.sla import SlaStatus, SlaTarget, sla_state
from handoff.store.agent_work import SlaEventRecord
from handoff.store.repository import HandoffRecord
from handoff.store.states import HandoffStatus

__all__ = [
    "AgentLoad",
    "Overview",
    "QueuedHandoff",
    "SlaAlertView",
    "TeamQueue",
    "TodaysEscalations",
    "build_overview",
]

Presence = Literal["online", "away", "offline"]


class QueuedHandoff(BaseModel):
    """One waiting handoff, as the supervisor's queue lists it."""

    id: int
    conversation_id: str
    severity: str
    category: str
    tier: str
    customer_name: str | None
    reasons: list[str]
    queued_at: datetime
    waiting_seconds: float
    sla_target: SlaTarget  # acknowledge, or resolve once acknowledged (before a transfer)
    sla_due: datetime
    sla_status: SlaStatus


class TeamQueue(BaseModel):
    """One team: how it routes, who is there for it, and what waits for it."""

    team: str
    routing: str
    agents_online: int
    in_progress: int
    queued: list[QueuedHandoff]


class AgentLoad(BaseModel):
    """One agent account: where they are and how full their hands are."""

    id: str
    username: str
    name: str
    role: str
    teams: list[str]
    presence: Presence
    active_chats: int
    capacity: int


class SlaAlertView(BaseModel):
    """A recorded warning or breach of an open handoff."""

    handoff_id: int
    conversation_id: str
    team: str
    severity: str
    kind: str
    target: str
    at: datetime


class TodaysEscalations(BaseModel):
    """The handoffs queued since ``since``, counted by reason code, team and severity, and
    the customers' ratings of them (1..5, asked by the assistant afterwards).

    A handoff counts once in ``total`` and once under each reason that fired for it.
    """

    since: datetime
    total: int
    by_reason: dict[str, int]
    by_team: dict[str, int]
    by_severity: dict[str, int]
    ratings: int
    average_rating: float | None


class Overview(BaseModel):
    """Everything on the supervisor page at ``generated_at``."""

    generated_at: datetime
    teams: list[TeamQueue]
    agents: list[AgentLoad]
    sla_alerts: list[SlaAlertView]
    escalations_today: TodaysEscalations


def build_overview(
    *,
    now: datetime,
    day_start: datetime,
    teams: Mapping[str, str],
    agents: Iterable[AgentRecord],
    presence: Mapping[str, Presence],
    open_handoffs: Sequence[HandoffRecord],
    customers: Mapping[int, tuple[str | None, str | None]],
    sla_events: Mapping[int, Sequence[SlaEventRecord]],
    todays_handoffs: Iterable[HandoffRecord],
    warning_fraction: float,
) -> Overview:
    """The overview from the facts.

    ``teams`` maps each team to its routing mode; ``presence`` has the agents with a socket
    open (absent: offline); ``open_handoffs`` are queued or assigned, in queue order (their
    briefs are not needed); ``customers`` has ``(name, tier)`` of each queued one's customer;
    ``sla_events`` the recorded events of those, by handoff id; ``todays_handoffs`` every
    handoff queued since ``day_start``.
    """
    active = Counter(
        h.agent_id for h in open_handoffs
        if h.status is HandoffStatus.ASSIGNED and h.agent_id is not None
    )  # fmt: skip
    agent_list = [_agent_load(a, presence.get(a.id, "offline"), active[a.id]) for a in agents]
    agent_list.sort(key=lambda a: (_PRESENCE_ORDER[a.presence], a.name))
    return Overview(
        generated_at=now,
        teams=[
            _team_queue(team, routing, agent_list, open_handoffs, customers, now, warning_fraction)
            for team, routing in sorted(teams.items())
        ],
        agents=agent_list,
        sla_alerts=_sla_alerts(open_handoffs, sla_events),
        escalations_today=_todays(day_start, todays_handoffs),
    )


_PRESENCE_ORDER: Mapping[Presence, int] = {"online": 0, "away": 1, "offline": 2}


def _agent_load(agent: AgentRecord, presence: Presence, active_chats: int) -> AgentLoad:
    return AgentLoad(
        id=agent.id,
        username=agent.username,
        name=agent.display_name,
        role=agent.role.value,
        teams=list(agent.teams),
        presence=presence,
        active_chats=active_chats,
        capacity=agent.capacity,
    )


def _team_queue(
    team: str,
    routing: str,
    agents: Collection[AgentLoad],
    open_handoffs: Sequence[HandoffRecord],
    customers: Mapping[int, tuple[str | None, str | None]],
    now: datetime,
    warning_fraction: float,
) -> TeamQueue:
    # Supervisors belong to every team on paper; the count is of agents who take its chats.
    online = sum(
        1 for a in agents if a.presence == "online" and team in a.teams and a.role == "agent"
    )
    mine = [h for h in open_handoffs if h.team == team]
    return TeamQueue(
        team=team,
        routing=routing,
        agents_online=online,
        in_progress=sum(1 for h in mine if h.status is HandoffStatus.ASSIGNED),
        queued=[
            _queued(h, customers.get(h.id, (None, None)), now, warning_fraction)
            for h in mine
            if h.status is HandoffStatus.QUEUED
        ],
    )


def _queued(
    handoff: HandoffRecord,
    customer: tuple[str | None, str | None],
    now: datetime,
    warning_fraction: float,
) -> QueuedHandoff:
    name, tier = customer
    # A handoff transferred or released back to a queue may have met its acknowledgement
    # target already (the store keeps the first acknowledgement): then resolution is the clock.
    target: SlaTarget = "acknowledge" if handoff.acknowledged_at is None else "resolve"
    due = handoff.acknowledge_due if target == "acknowledge" else handoff.resolve_due
    reading = sla_state(
        started_at=handoff.created_at, due_at=due, now=now, warning_fraction=warning_fraction
    )
    return QueuedHandoff(
        id=handoff.id,
        conversation_id=handoff.conversation_id,
        severity=handoff.severity,
        category=handoff.category,
        tier=tier or "standard",  # anonymous customers count as standard
        customer_name=name,
        reasons=_reason_codes(handoff),
        queued_at=handoff.created_at,
        waiting_seconds=max(0.0, (now - handoff.created_at).total_seconds()),
        sla_target=target,
        sla_due=due,
        sla_status=reading.status,
    )


def _reason_codes(handoff: HandoffRecord) -> list[str]:
    return [str(r["code"]) for r in handoff.reasons if isinstance(r, dict) and "code" in r]


def _sla_alerts(
    open_handoffs: Sequence[HandoffRecord], events: Mapping[int, Sequence[SlaEventRecord]]
) -> list[SlaAlertView]:
    by_id = {h.id: h for h in open_handoffs}
    alerts = [
        SlaAlertView(
            handoff_id=event.handoff_id,
            conversation_id=by_id[event.handoff_id].conversation_id,
            team=by_id[event.handoff_id].team,
            severity=by_id[event.handoff_id].severity,
            kind=event.kind,
            target=event.target,
            at=event.at,
        )
        for handoff_id, recorded in events.items()
        if handoff_id in by_id
        for event in recorded
    ]
    alerts.sort(key=lambda a: a.at, reverse=True)  # newest first, as a feed reads
    return alerts


def _todays(day_start: datetime, handoffs: Iterable[HandoffRecord]) -> TodaysEscalations:
    by_reason: Counter[str] = Counter()
    by_team: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    total = 0
    ratings: list[int] = []
    for handoff in handoffs:
        total += 1
        by_reason.update(set(_reason_codes(handoff)))
        by_team[handoff.team] += 1
        by_severity[handoff.severity] += 1
        if handoff.satisfaction_rating is not None:
            ratings.append(handoff.satisfaction_rating)
    return TodaysEscalations(
        since=day_start,
        total=total,
        by_reason=dict(by_reason.most_common()),
        by_team=dict(sorted(by_team.items())),
        by_severity=dict(sorted(by_severity.items())),
        ratings=len(ratings),
        average_rating=round(sum(ratings) / len(ratings), 2) if ratings else None,
    )
