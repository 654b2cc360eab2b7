from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.gateway.outlook import QueuedItem, outlook, queue_position

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def item(handoff_id: int, team: str = "disputes", priority: int = 20, minutes_ago: int = 0):
    return QueuedItem(handoff_id, team, priority, NOW - timedelta(minutes=minutes_ago))


QUEUE = [
    item(1, priority=20, minutes_ago=10),
    item(2, priority=10, minutes_ago=1),  # more urgent, though newer
    item(3, priority=20, minutes_ago=5),
    item(4, team="security", priority=10, minutes_ago=30),  # another team's queue
]


@pytest.mark.parametrize(
    ("handoff_id", "expected"),
    [(2, 1), (1, 2), (3, 3), (4, 1)],
    ids=["urgent", "old", "new", "team"],
)
def test_position_orders_by_priority_then_age_within_the_team(handoff_id: int, expected: int):
    target = next(q for q in QUEUE if q.handoff_id == handoff_id)
    assert queue_position(target, QUEUE) == expected


def test_nobody_online_gives_no_estimate() -> None:
    result = outlook(
        QUEUE[2], QUEUE, agents_online={"security": 3}, average_handle=timedelta(minutes=8),
        acknowledge_due=NOW + timedelta(hours=1), now=NOW,
    )  # fmt: skip
    assert (result.position, result.agents_available, result.wait_estimate) == (3, False, None)


@pytest.mark.parametrize(
    ("agents", "due_minutes", "expected_minutes"),
    [(1, 60, 16), (2, 60, 8), (1, 10, 10), (4, 60, 4)],
    ids=["one-agent", "two-agents", "capped-by-sla", "four-agents"],
)
def test_estimate_shares_the_queue_ahead_among_agents(
    agents: int, due_minutes: int, expected_minutes: int
) -> None:
    result = outlook(
        QUEUE[2], QUEUE, agents_online={"disputes": agents}, average_handle=timedelta(minutes=8),
        acknowledge_due=NOW + timedelta(minutes=due_minutes), now=NOW,
    )  # fmt: skip
    assert result.wait_estimate == timedelta(minutes=expected_minutes)


def test_first_in_line_with_an_agent_online_waits_nothing() -> None:
    result = outlook(
        QUEUE[1], QUEUE, agents_online={"disputes": 1}, average_handle=timedelta(minutes=8),
        acknowledge_due=NOW + timedelta(hours=1), now=NOW,
    )  # fmt: skip
    assert (result.position, result.wait_estimate) == (1, timedelta(0))
