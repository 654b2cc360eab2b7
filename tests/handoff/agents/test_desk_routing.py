"""Routing modes per team: auto-assign to the least busy eligible agent, or claim.

Driven through both sockets as in ``test_agent_socket``; the desk gets the ``teams:`` rules.
"""

# ruff: noqa: F811 - the shared fixtures are imported from test_agent_socket
from __future__ import annotations

from collections.abc import Iterator

import pytest
from desk_harness import desk_harness, escalate_open
from sqlalchemy import Engine
from starlette.testclient import WebSocketTestSession
from test_agent_socket import (  # noqa: F401 - fixtures
    Harness,
    auth,
    hand_over,
    migrated_engine,
    of_type,
    policy,
    receive,
    receive_until,
    service_engine,
    start,
)

from handoff.escalation.policy import EscalationPolicy, TeamRules, load_policy
from handoff.exceptions import ConfigurationError
from handoff.settings import repo_root
from handoff.store.states import HandoffStatus

AUTO = {"security": TeamRules(routing="auto_assign")}


@pytest.fixture
def auto(service_engine: Engine, policy: EscalationPolicy) -> Iterator[Harness]:  # noqa: F811
    with desk_harness(service_engine, policy, team_rules=AUTO) as harness:
        yield harness


def queue_security(harness: Harness, count: int) -> list[int]:
    """``count`` security handoffs, each from its own customer, oldest first."""
    ids = []
    for n in range(count):
        with harness.connect_customer() as customer:
            start(customer)
            ids.append(escalate_open(harness, customer, hand_over("security"), cmid=f"m{n}"))
    return ids


def claimed_ids(ws: WebSocketTestSession, count: int) -> list[int]:
    return [receive_until(ws, of_type("claimed"))["handoff"]["id"] for _ in range(count)]


def holder(harness: Harness, handoff_id: int) -> str | None:
    handoff = harness.store.get_handoff(handoff_id)
    assert handoff is not None
    return handoff.agent_id


# --------------------------------------------------------------------------- the policy


def test_the_policy_file_gives_every_team_a_routing_mode_hours_and_fallback() -> None:
    policy = load_policy(repo_root() / "data" / "escalation.yml")
    assert policy.team_rules("security").routing == "auto_assign"
    assert policy.team_rules("compliance").routing == "claim"
    assert policy.team_rules("disputes").fallback_team == "general"
    assert policy.team_rules("general").business_hours == "always"
    assert policy.team_rules("no_such_team") == TeamRules()


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ({"treasury": {"routing": "claim"}}, "'treasury' is not a team of the matrix"),
        ({"security": {"routing": "round_robin"}}, "teams.security.routing"),
        ({"security": {"fallback_team": "security"}}, "must be another team"),
        (
            {
                "security": {
                    "business_hours": {
                        "days": "mon-fri",
                        "start": 480,
                        "end": "20:00",
                        "timezone": "Europe/Paris",
                    }
                }
            },
            'write the time in quotes, such as "08:00"',
        ),
        (
            {
                "security": {
                    "business_hours": {
                        "days": "mon-fri",
                        "start": "08:00",
                        "end": "20:00",
                        "timezone": "Mars/Olympus",
                    }
                }
            },
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
    ids=["unknown-team", "unknown-mode", "self-fallback", "unquoted-time", "unknown-zone"],
)
def test_a_bad_teams_section_is_refused_with_the_key_named(
    tmp_path: pytest.TempPathFactory, teams: dict[str, object], message: str
) -> None:
    import yaml

    raw = yaml.safe_load((repo_root() / "data" / "escalation.yml").read_text())
    raw["teams"] = teams
    path = tmp_path / "escalation.yml"  # type: ignore[operator]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- auto-assign


def test_a_queued_handoff_goes_to_the_least_busy_agent_and_the_others_are_told(
    auto: Harness,
) -> None:
    with auto.connect_agent() as ana, auto.connect_agent() as bo, auto.connect_agent() as sue:
        for ws, who in [(ana, "ana"), (bo, "bo"), (sue, "sue")]:
            auth(ws, auto.token(who))
        [first] = queue_security(auto, 1)
        # Equally busy and idle since the same instant: the tie goes by id, deterministically.
        winner = holder(auto, first)
        assert winner in {auto.agents["ana"].id, auto.agents["bo"].id}
        won, lost = (ana, bo) if winner == auto.agents["ana"].id else (bo, ana)
        assert claimed_ids(won, 1) == [first]
        assert receive_until(lost, of_type("handoff_taken"))["handoff_id"] == first
        assert receive_until(sue, of_type("handoff_taken"))["handoff_id"] == first  # supervisor
        # The next one goes to the other agent: one chat against none.
        [second] = queue_security(auto, 1)
        assert holder(auto, second) != winner
        assert claimed_ids(lost, 1) == [second]


def test_an_agent_coming_online_is_given_the_queue_most_urgent_first_up_to_capacity(
    auto: Harness,
) -> None:
    ids = queue_security(auto, 3)  # nobody online: they wait, as tickets with their briefs
    assert all(holder(auto, h) is None for h in ids)
    with auto.connect_agent() as ana:
        welcome = auth(ana, auto.token("ana"))
        assert [h["id"] for h in welcome["queue"]] == ids
        assert all(h["brief"]["team"] == "security" for h in welcome["queue"])
        assert claimed_ids(ana, 2) == ids[:2]  # capacity 2; oldest first at equal priority
        assert holder(auto, ids[2]) is None
        with auto.connect_agent() as bo:
            auth(bo, auto.token("bo"))
            assert claimed_ids(bo, 1) == [ids[2]]


def test_freed_capacity_takes_the_next_queued_handoff(auto: Harness) -> None:
    with auto.connect_agent() as ana:
        auth(ana, auto.token("ana"))
        ids = queue_security(auto, 3)
        assert claimed_ids(ana, 2) == ids[:2]
        ana.send_json({"type": "hand_back", "handoff_id": ids[0], "summary": "sorted"})
        assert receive_until(ana, of_type("done"))["action"] == "handed_back"
        assert claimed_ids(ana, 1) == [ids[2]]
    handoff = auto.store.get_handoff(ids[2])
    assert handoff is not None and handoff.status is HandoffStatus.ASSIGNED


def test_an_away_agent_is_not_assigned_until_they_are_back_online(auto: Harness) -> None:
    with auto.connect_agent() as ana:
        auth(ana, auto.token("ana"))
        ana.send_json({"type": "presence", "status": "away"})
        ana.send_json({"type": "ping"})
        assert receive(ana) == {"type": "pong"}
        [handoff_id] = queue_security(auto, 1)
        assert holder(auto, handoff_id) is None
        ana.send_json({"type": "presence", "status": "online"})
        assert claimed_ids(ana, 1) == [handoff_id]


def test_claim_teams_are_never_auto_assigned(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
) -> None:
    rules = {"security": TeamRules(routing="claim")}
    with desk_harness(service_engine, policy, team_rules=rules) as harness:
        with harness.connect_agent() as ana:
            auth(ana, harness.token("ana"))
            [handoff_id] = queue_security(harness, 1)
            assert receive_until(ana, of_type("handoff_queued"))["handoff"]["id"] == handoff_id
            ana.send_json({"type": "ping"})
            assert receive(ana) == {"type": "pong"}
        assert holder(harness, handoff_id) is None


def test_the_supervisor_alert_reaches_connected_supervisors_only(auto: Harness) -> None:
    from handoff.gateway.protocol import PongFrame

    with auto.connect_agent() as ana, auto.connect_agent() as sue:
        auth(ana, auto.token("ana"))
        auth(sue, auto.token("sue"))
        auto.client.portal.call(auto.desk.alert_supervisors, "security", PongFrame())  # type: ignore[union-attr]
        assert receive(sue) == {"type": "pong"}
        ana.send_json({"type": "ping"})
        assert receive(ana) == {"type": "pong"}  # the very next frame: no alert before it
        ana.send_json({"type": "ping"})
        assert receive(ana) == {"type": "pong"}
