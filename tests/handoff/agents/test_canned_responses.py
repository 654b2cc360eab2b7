"""Canned responses: the file, its validation, ``welcome`` and the agents' route."""

# ruff: noqa: F811 - the shared fixtures are imported from test_agent_socket
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from desk_harness import desk_harness
from sqlalchemy import Engine
from test_agent_socket import (  # noqa: F401 - fixtures
    Harness,
    auth,
    migrated_engine,
    policy,
    service_engine,
)

from handoff.agents.accounts import policy_teams
from handoff.agents.canned import CannedResponse, CannedResponses, load_canned_responses
from handoff.agents.routes import agent_clock
from handoff.app import build_desk
from handoff.escalation.policy import EscalationPolicy
from handoff.exceptions import ConfigurationError
from handoff.gateway.hub import ConversationHub
from handoff.gateway.presence import PresenceRegistry
from handoff.settings import AgentSettings, EscalationSettings, Settings, repo_root

FILE = repo_root() / "data" / "canned_responses.yml"


@pytest.fixture
def canned(policy: EscalationPolicy) -> CannedResponses:  # noqa: F811
    return load_canned_responses(FILE, known_teams=policy_teams(policy))


@pytest.fixture
def harness(
    service_engine: Engine,  # noqa: F811
    policy: EscalationPolicy,  # noqa: F811
    canned: CannedResponses,
) -> Iterator[Harness]:
    with desk_harness(service_engine, policy, canned=canned) as harness:
        yield harness


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "canned.yml"
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the file


def test_the_shipped_file_has_a_dozen_valid_responses_of_known_teams(
    canned: CannedResponses,
) -> None:
    assert len(canned) == 12
    assert len({r.id for r in canned}) == 12
    assert all(r.text.strip() and r.title.strip() for r in canned)


def test_responses_are_filtered_by_team_and_supervisors_see_them_all(
    canned: CannedResponses,
) -> None:
    security = [r.id for r in canned.for_agent(["security"])]
    assert "card-frozen" in security and "greeting" in security
    assert "dispute-opened" not in security
    assert len(canned.for_agent([], every_team=True)) == 12
    assert [r.id for r in canned.for_agent(["nobody"])] == [r.id for r in canned if r.teams is None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: a\n  title: A\n  text: [unclosed", "not valid YAML"),
        ("id: a\ntitle: A\ntext: hello\n", "(top level): Input should be a valid list"),
        ("- id: a\n  title: A\n", "0.text: Field required"),
        ("- id: Bad Id\n  title: A\n  text: hi\n", "0.id: String should match pattern"),
        ("- {id: a, title: A, text: hi}\n- {id: a, title: B, text: ho}\n", "id 'a' is repeated"),
        ("- {id: a, title: A, text: hi, teams: [treasury]}\n", "unknown team(s) treasury"),
        ("- {id: a, title: A, text: hi, colour: red}\n", "0.colour: Extra inputs"),
    ],
    ids=["yaml", "not-a-list", "no-text", "bad-id", "repeated-id", "unknown-team", "extra-key"],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path,
    policy: EscalationPolicy,
    text: str,
    message: str,  # noqa: F811
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_canned_responses(path, known_teams=policy_teams(policy))
    assert str(path) in str(caught.value) and message in str(caught.value), str(caught.value)


def test_a_bad_file_stops_the_desk_from_being_built_at_start_up(
    tmp_path: Path,
    service_engine: Engine,  # noqa: F811
) -> None:
    settings = Settings(
        agents=AgentSettings(canned_responses_file=write(tmp_path, "- {id: a}\n")),
        escalation=EscalationSettings(),
    )
    gateway = SimpleNamespace(service=SimpleNamespace(store=None), hub=ConversationHub())
    resources = SimpleNamespace(service_engine=service_engine)
    with pytest.raises(ConfigurationError, match="canned responses"):
        build_desk(settings, resources, gateway, PresenceRegistry())  # type: ignore[arg-type]
    missing = Settings(agents=AgentSettings(canned_responses_file=tmp_path / "none.yml"))
    with pytest.raises(ConfigurationError, match="cannot read the canned responses"):
        build_desk(missing, resources, gateway, PresenceRegistry())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the desk


def test_welcome_carries_the_canned_responses_of_the_agents_teams(
    harness: Harness, canned: CannedResponses
) -> None:
    with harness.connect_agent() as ana, harness.connect_agent() as sue:
        mine = auth(ana, harness.token("ana"))["canned_responses"]
        assert [r["id"] for r in mine] == [r.id for r in canned.for_agent(["security"])]
        assert set(mine[0]) == {"id", "title", "text", "teams"}
        every = auth(sue, harness.token("sue"))["canned_responses"]
        assert len(every) == 12


def test_the_route_answers_the_agents_canned_responses_and_401_without_a_token(
    harness: Harness, canned: CannedResponses
) -> None:
    harness.client.app.dependency_overrides[agent_clock] = harness.clock  # type: ignore[attr-defined]
    answer = harness.client.get(
        "/api/agents/canned-responses",
        headers={"Authorization": f"Bearer {harness.token('dee')}"},
    )
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json()] == [r.id for r in canned.for_agent(["disputes"])]
    assert "dispute-opened" in [r["id"] for r in answer.json()]
    CannedResponse.model_validate(answer.json()[0])
    assert harness.client.get("/api/agents/canned-responses").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert harness.client.get("/api/agents/canned-responses", headers=bad).status_code == 401
