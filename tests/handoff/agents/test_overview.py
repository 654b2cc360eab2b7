"""The supervisor's overview: the pure counting, and the route over a live desk."""

# ruff: noqa: F811 - the shared fixtures are imported from test_agent_socket
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from desk_harness import desk_harness
from sqlalchemy import Engine
from test_agent_socket import (  # noqa: F401 - fixtures
    NOW,
    Harness,
    auth,
    claim,
    escalate,
    hand_over,
    migrated_engine,
    policy,
    service_engine,
    start,
)

from handoff.agents.accounts import AgentRecord
from handoff.agents.overview import build_overview
from handoff.agents.routes import agent_clock
from handoff.agents.sla import SlaStatus
from handoff.escalation.policy import EscalationPolicy
from handoff.store.agent_work import SlaEventRecord
from handoff.store.repository import HandoffRecord
from handoff.store.states import AgentRole, HandoffStatus

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 26, tzinfo=UTC)


def agent(who: str, teams: list[str], *, role: AgentRole = AgentRole.AGENT) -> AgentRecord:
    return AgentRecord(
        id=f"id-{who}", username=who, display_name=who.title(), role=role, teams=tuple(teams),
        capacity=3, active=True, created_at=T0,
    )  # fmt: skip


def handoff(
    handoff_id: int,
    team: str,
    *,
    status: HandoffStatus = HandoffStatus.QUEUED,
    agent_id: str | None = None,
    reasons: list[str] = ("request_human",),  # type: ignore[assignment]
    queued: datetime = T0,
    severity: str = "sev3",
    rating: int | None = None,
    acknowledged_at: datetime | None = None,
) -> HandoffRecord:
    return HandoffRecord(
        id=handoff_id, conversation_id=f"c{handoff_id}", status=status,
        reasons=[{"code": code, "value": True, "threshold": None, "detail": code}
                 for code in reasons],
        score=1.0, severity=severity, category="technical", team=team, priority=30, mode="cold",
        acknowledge_due=queued + timedelta(hours=1), resolve_due=queued + timedelta(hours=8),
        created_at=queued, brief={}, customer_notice="", agent_id=agent_id,
        satisfaction_rating=rating, acknowledged_at=acknowledged_at,
    )  # fmt: skip


def overview(**overrides: Any):  # type: ignore[no-untyped-def]
    facts: dict[str, Any] = {
        "now": T0 + timedelta(minutes=50),
        "day_start": DAY_START,
        "teams": {"general": "claim", "security": "auto_assign"},
        "agents": [],
        "presence": {},
        "open_handoffs": [],
        "customers": {},
        "sla_events": {},
        "todays_handoffs": [],
        "warning_fraction": 0.8,
    }
    return build_overview(**{**facts, **overrides})


def test_each_team_lists_its_queue_with_tier_reasons_wait_and_sla_state() -> None:
    queued = [
        handoff(1, "general", reasons=["frustration", "request_human"]),
        handoff(2, "general", queued=T0 + timedelta(minutes=45)),
        handoff(3, "security", status=HandoffStatus.ASSIGNED, agent_id="id-ana"),
    ]
    result = overview(open_handoffs=queued, customers={1: ("Maria Silva", "premium")})

    general, security = result.teams
    assert (general.team, general.routing, security.routing) == ("general", "claim", "auto_assign")
    first, second = general.queued
    assert (first.tier, first.customer_name) == ("premium", "Maria Silva")
    assert first.reasons == ["frustration", "request_human"]
    assert first.waiting_seconds == 50 * 60
    assert first.sla_status is SlaStatus.WARNING  # 50 of 60 minutes: past 80 %
    assert (second.tier, second.customer_name, second.sla_status) == (
        "standard",
        None,
        SlaStatus.ACTIVE,
    )
    assert security.queued == [] and security.in_progress == 1


def test_a_requeued_handoff_already_acknowledged_counts_down_to_its_resolution() -> None:
    transferred = handoff(1, "general", acknowledged_at=T0 + timedelta(minutes=2))
    fresh = handoff(2, "general")

    moved, waiting = overview(open_handoffs=[transferred, fresh]).teams[0].queued

    assert (moved.sla_target, moved.sla_due) == ("resolve", transferred.resolve_due)
    assert moved.sla_status is SlaStatus.ACTIVE  # 50 minutes of an 8-hour resolution window
    assert (waiting.sla_target, waiting.sla_due) == ("acknowledge", fresh.acknowledge_due)
    assert waiting.sla_status is SlaStatus.WARNING


def test_agents_show_presence_and_load_online_first_and_only_agents_count_for_teams() -> None:
    agents = [
        agent("zoe", ["general"]),
        agent("ana", ["security"]),
        agent("bo", ["general"]),
        agent("sam", ["general", "security"], role=AgentRole.SUPERVISOR),
    ]
    assigned = [
        handoff(1, "general", status=HandoffStatus.ASSIGNED, agent_id="id-zoe"),
        handoff(2, "general", status=HandoffStatus.ASSIGNED, agent_id="id-zoe"),
    ]
    result = overview(
        agents=agents,
        presence={"id-zoe": "online", "id-ana": "away", "id-sam": "online"},
        open_handoffs=assigned,
    )

    assert [(a.username, a.presence, a.active_chats) for a in result.agents] == [
        ("sam", "online", 0), ("zoe", "online", 2), ("ana", "away", 0), ("bo", "offline", 0),
    ]  # fmt: skip
    general = next(t for t in result.teams if t.team == "general")
    assert general.agents_online == 1  # zoe; the supervisor does not take the team's chats


def test_sla_alerts_are_those_of_open_handoffs_newest_first() -> None:
    events = {
        1: [
            SlaEventRecord(1, 1, "warning", "acknowledge", T0 + timedelta(minutes=48)),
            SlaEventRecord(2, 1, "breach", "acknowledge", T0 + timedelta(minutes=60)),
        ],
        9: [SlaEventRecord(3, 9, "breach", "resolve", T0)],  # no longer open
    }
    result = overview(open_handoffs=[handoff(1, "general", severity="sev2")], sla_events=events)

    assert [(a.handoff_id, a.kind, a.target, a.team, a.severity) for a in result.sla_alerts] == [
        (1, "breach", "acknowledge", "general", "sev2"),
        (1, "warning", "acknowledge", "general", "sev2"),
    ]


def test_todays_escalations_count_each_handoff_once_per_reason() -> None:
    today = [
        handoff(1, "general", reasons=["frustration", "request_human"]),
        handoff(2, "general", reasons=["request_human"], status=HandoffStatus.RESOLVED, rating=4),
        handoff(4, "general", reasons=["request_human"], status=HandoffStatus.RESOLVED, rating=5),
        handoff(3, "security", reasons=["risk_phrase", "risk_phrase"], severity="sev1"),
    ]
    counts = overview(todays_handoffs=today).escalations_today

    assert counts.since == DAY_START and counts.total == 4
    assert counts.by_reason == {"request_human": 3, "frustration": 1, "risk_phrase": 1}
    assert counts.by_team == {"general": 3, "security": 1}
    assert counts.by_severity == {"sev1": 1, "sev3": 3}
    assert (counts.ratings, counts.average_rating) == (2, 4.5)


# --------------------------------------------------------------------------- the route


@pytest.fixture
def harness(service_engine: Engine, policy: EscalationPolicy) -> Iterator[Harness]:
    """The desk harness (it serves the agents' REST routes) on the harness's clock."""
    with desk_harness(service_engine, policy) as running:
        app = running.client.app
        app.state.work_store = running.work  # type: ignore[attr-defined]
        app.dependency_overrides[agent_clock] = running.clock  # type: ignore[attr-defined]
        yield running


def get_overview(harness: Harness, who: str) -> Any:
    return harness.client.get(
        "/api/agents/overview", headers={"Authorization": f"Bearer {harness.token(who)}"}
    )


def test_the_route_shows_a_supervisor_the_live_queue_presence_and_todays_counts(
    harness: Harness,
) -> None:
    with harness.connect_customer() as customer, harness.connect_agent() as ana:
        start(customer)
        first = escalate(harness, customer, hand_over("security"))
        auth(ana, harness.token("ana"))
        assert claim(ana, first)["type"] == "claimed"
        with harness.connect_customer() as second_customer:
            start(second_customer)
            second = escalate(harness, second_customer, hand_over("security"))

            response = get_overview(harness, "sue")

    assert response.status_code == 200, response.text
    body = response.json()
    security = next(t for t in body["teams"] if t["team"] == "security")
    assert [q["id"] for q in security["queued"]] == [second]
    assert security["in_progress"] == 1 and security["agents_online"] == 1
    ana_load = next(a for a in body["agents"] if a["username"] == "ana")
    assert (ana_load["presence"], ana_load["active_chats"]) == ("online", 1)
    assert next(a for a in body["agents"] if a["username"] == "bo")["presence"] == "offline"
    assert body["escalations_today"]["total"] == 2
    assert (body["escalations_today"]["ratings"], body["escalations_today"]["average_rating"]) == (
        0,
        None,
    )
    assert body["escalations_today"]["since"].startswith(NOW.date().isoformat())


def test_the_route_refuses_an_agent_who_is_not_a_supervisor_and_a_missing_token(
    harness: Harness,
) -> None:
    assert get_overview(harness, "ana").status_code == 403
    assert harness.client.get("/api/agents/overview").status_code == 401
