from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.agents.routing import (
    AgentState,
    QueueEntry,
    RoutingMode,
    assignments,
    eligible,
    next_team,
    order_queue,
    pick_agent,
)
from handoff.escalation.decision import Severity, Tier
from handoff.store.states import HandoffStatus

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S1, S2, S3 = Severity.SEV1, Severity.SEV2, Severity.SEV3
PREMIUM, PLUS, STANDARD = Tier.PREMIUM, Tier.PLUS, Tier.STANDARD


def entry(
    handoff_id: int,
    *,
    priority: int = 30,
    severity: Severity = S3,
    tier: Tier = STANDARD,
    waited: int = 0,
    team: str = "disputes",
    status: HandoffStatus = HandoffStatus.QUEUED,
) -> QueueEntry:
    return QueueEntry(
        handoff_id, f"c{handoff_id}", team, severity, tier, priority,
        NOW - timedelta(minutes=waited), status,
    )  # fmt: skip


def agent(
    agent_id: str,
    *,
    teams: tuple[str, ...] = ("disputes",),
    presence: str = "online",
    capacity: int = 3,
    active: int = 0,
    idle: int | None = 0,
) -> AgentState:
    idle_since = None if idle is None else NOW - timedelta(minutes=idle)
    return AgentState(agent_id, frozenset(teams), presence, capacity, active, idle_since)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([entry(1, priority=36), entry(2, priority=20)], [2, 1]),
        ([entry(1, priority=20, severity=S2), entry(2, priority=20, severity=S1)], [2, 1]),
        (
            [entry(1, priority=30, tier=STANDARD), entry(2, priority=30, tier=PLUS),
             entry(3, priority=30, tier=PREMIUM)],
            [3, 2, 1],
        ),
        ([entry(1, waited=5), entry(2, waited=30), entry(3, waited=10)], [2, 3, 1]),
        ([entry(9, waited=5), entry(4, waited=5)], [4, 9]),
        ([entry(1, waited=60, priority=46), entry(2, waited=0, priority=36)], [2, 1]),
        (
            [entry(1, status=HandoffStatus.ASSIGNED, priority=10), entry(2),
             entry(3, status=HandoffStatus.CANCELLED)],
            [2],
        ),
        ([], []),
    ],
    ids=[
        "priority", "severity-breaks-priority-tie", "tier-premium-first",
        "longest-wait-first", "id-settles-the-rest", "priority-beats-wait",
        "only-queued", "empty",
    ],
)  # fmt: skip
def test_order_queue(entries: list[QueueEntry], expected: list[int]) -> None:
    assert [e.handoff_id for e in order_queue(entries, NOW)] == expected


@pytest.mark.parametrize(
    ("state", "team", "expected"),
    [
        (agent("a"), "disputes", True),
        (agent("a", presence="away"), "disputes", False),
        (agent("a", presence="offline"), "disputes", False),
        (agent("a"), "security", False),
        (agent("a", capacity=3, active=2), "disputes", True),
        (agent("a", capacity=3, active=3), "disputes", False),
        (agent("a", capacity=0), "disputes", False),
    ],
    ids=["online-member", "away", "offline", "other-team", "below-capacity", "full", "no-capacity"],
)
def test_eligible(state: AgentState, team: str, expected: bool) -> None:
    assert eligible(state, team) is expected


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        ([agent("a", active=2), agent("b", active=1)], "b"),
        # Fewest chats, not load ratio: b is at 1/2 (50 %), a at 2/10 (20 %).
        ([agent("a", capacity=10, active=2), agent("b", capacity=2, active=1)], "b"),
        ([agent("a", active=1, idle=5), agent("b", active=1, idle=30)], "b"),
        ([agent("a", idle=None), agent("b", idle=1)], "b"),
        ([agent("b", idle=10), agent("a", idle=10)], "a"),
        ([agent("b", idle=None), agent("a", idle=None)], "a"),
        ([agent("a", presence="away"), agent("b", active=2)], "b"),
        ([agent("a", active=3), agent("b", teams=("security",))], None),
        ([], None),
    ],
    ids=[
        "fewest-chats",
        "count-not-ratio",
        "longest-idle",
        "unknown-idle-last",
        "id-tie-break",
        "id-tie-break-unknown-idle",
        "skips-ineligible",
        "nobody-eligible",
        "no-agents",
    ],
)
def test_pick_agent(agents: list[AgentState], expected: str | None) -> None:
    picked = pick_agent(agents, "disputes")
    assert (picked.agent_id if picked else None) == expected


AUTO = RoutingMode.AUTO_ASSIGN
CLAIM = RoutingMode.CLAIM


@pytest.mark.parametrize(
    ("queue", "agents", "modes", "expected"),
    [
        (
            [entry(1, waited=10), entry(2, waited=5), entry(3, waited=1)],
            [agent("a", idle=20), agent("b", idle=10)],
            {"disputes": AUTO},
            [(1, "a"), (2, "b"), (3, "a")],
        ),
        (
            [entry(1, waited=10), entry(2, waited=5), entry(3, waited=1)],
            [agent("a", capacity=1), agent("b", capacity=2, active=1)],
            {"disputes": AUTO},
            [(1, "a"), (2, "b")],
        ),
        (
            [entry(1, priority=30), entry(2, priority=10, severity=S1)],
            [agent("a", capacity=1)],
            {"disputes": AUTO},
            [(2, "a")],
        ),
        (
            [entry(1, team="disputes"), entry(2, team="security", waited=5)],
            [agent("a", teams=("disputes", "security"), capacity=1)],
            {"disputes": AUTO, "security": AUTO},
            [(2, "a")],
        ),
        (
            [entry(1, team="disputes"), entry(2, team="security", waited=5)],
            [agent("a"), agent("s", teams=("security",))],
            {"disputes": CLAIM, "security": AUTO},
            [(2, "s")],
        ),
        (
            [entry(1, team="general")],
            [agent("a", teams=("general",))],
            {},
            [],
        ),
        (
            [entry(1, status=HandoffStatus.ASSIGNED), entry(2)],
            [agent("a")],
            {"disputes": AUTO},
            [(2, "a")],
        ),
        (
            [entry(1), entry(2, waited=3)],
            [agent("a", presence="away")],
            {"disputes": AUTO},
            [],
        ),
    ],
    ids=[
        "round-robin-by-load", "capacity-runs-out", "most-urgent-first",
        "shared-agent-load-across-teams", "claim-team-left-alone", "unlisted-team-is-claim",
        "skips-assigned", "nobody-online",
    ],
)  # fmt: skip
def test_assignments(
    queue: list[QueueEntry],
    agents: list[AgentState],
    modes: dict[str, RoutingMode],
    expected: list[tuple[int, str]],
) -> None:
    assert assignments(queue, agents, modes, NOW) == expected


def test_assignments_accept_modes_as_plain_strings() -> None:
    modes = {"disputes": "auto_assign"}
    assert assignments([entry(1)], [agent("a")], modes, NOW) == [(1, "a")]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("team", "expected"),
    [("disputes", "general"), ("general", None), ("security", None), ("compliance", None)],
    ids=["has-fallback", "points-to-itself", "no-entry", "unknown-team"],
)
def test_next_team(team: str, expected: str | None) -> None:
    fallback = {"disputes": "general", "general": "general", "relationship": "general"}
    assert next_team(team, fallback) == expected
