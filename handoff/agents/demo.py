"""The demo agents that ``make run`` seeds (``handoff agents seed-demo``).

One agent or more for every team of ``data/escalation.yml``'s matrix and a supervisor of all of
them, all with the password :data:`DEMO_PASSWORD`. Seeding is idempotent: an account whose
username exists is left as it is (its password included).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from handoff.agents.accounts import AgentRecord, AgentStore, check_teams
from handoff.agents.exceptions import AgentExists
from handoff.store.states import AgentRole

DEMO_PASSWORD = "demo-password"
"""The password of every demo agent. Public: demo accounts only."""

DEMO_LOGIN = "carla.relationship"
"""The demo agent the start-up banner suggests logging in as: of the ``general`` and
``relationship`` teams, where a standard customer's request for a person goes (frustrated or
not)."""
DEMO_SUPERVISOR = "sam.supervisor"
"""The demo supervisor (every team), for the supervisor view."""


@dataclass(frozen=True, slots=True)
class DemoAgent:
    """One demo account."""

    username: str
    display_name: str
    teams: tuple[str, ...]
    role: AgentRole = AgentRole.AGENT
    capacity: int = 3


DEMO_AGENTS: tuple[DemoAgent, ...] = (
    # Names unlike the demo bank's customers', so a transcript never looks like one talking to
    # themselves.
    DemoAgent("ana.security", "Ana Souza", ("security",)),
    DemoAgent("bruno.disputes", "Bruno Costa", ("disputes",)),
    DemoAgent("carla.relationship", "Carla Nunes", ("relationship", "general")),
    DemoAgent("dev.support", "Dev Patel", ("technical_support", "general"), capacity=4),
    DemoAgent("femi.compliance", "Femi Adeyemi", ("compliance",), capacity=2),
    DemoAgent(
        DEMO_SUPERVISOR,
        "Sam Lee",
        ("security", "disputes", "relationship", "technical_support", "general", "compliance"),
        role=AgentRole.SUPERVISOR,
        capacity=2,
    ),
)


@dataclass(frozen=True, slots=True)
class SeededAgent:
    """A demo account and whether this run created it."""

    agent: AgentRecord
    created: bool


def seed_demo_agents(
    store: AgentStore, *, known_teams: Collection[str], now: datetime
) -> list[SeededAgent]:
    """Create the demo agents that are missing; returns every demo account, in order.

    Raises :class:`~handoff.agents.exceptions.UnknownTeam` before writing anything when a demo
    team is not one the escalation matrix routes to (the policy was edited).
    """
    for demo in DEMO_AGENTS:
        check_teams(demo.teams, known_teams)
    return [_seed(store, demo, now) for demo in DEMO_AGENTS]


def _seed(store: AgentStore, demo: DemoAgent, now: datetime) -> SeededAgent:
    existing = store.find_agent(demo.username)
    if existing is not None:
        return SeededAgent(existing, created=False)
    try:
        agent = store.create_agent(
            username=demo.username,
            display_name=demo.display_name,
            role=demo.role,
            teams=demo.teams,
            capacity=demo.capacity,
            password=DEMO_PASSWORD,
            now=now,
        )
    except AgentExists:  # another seeding run got there first
        raced = store.find_agent(demo.username)
        if raced is None:  # created and removed again meanwhile: report the clash
            raise
        return SeededAgent(raced, created=False)
    return SeededAgent(agent, created=True)
