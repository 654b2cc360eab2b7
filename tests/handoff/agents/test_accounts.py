"""Agents' accounts: creation, validation, listing, password login; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from postgres_server import BACKENDS, PostgresServer
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from handoff.agents.accounts import AgentRecord, AgentStore, check_teams, policy_teams
from handoff.agents.demo import DEMO_AGENTS, DEMO_LOGIN, DEMO_PASSWORD, seed_demo_agents
from handoff.agents.exceptions import AgentExists, InvalidAgent, UnknownTeam
from handoff.escalation.policy import load_policy
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Agent
from handoff.store.states import AgentRole

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 5, 27, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"
POLICY_TEAMS = {
    "technical_support",
    "general",
    "disputes",
    "compliance",
    "relationship",
    "security",
}

# Argon2id with tiny costs: the same code paths in a millisecond. Never for real accounts.
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

_fresh_names = itertools.count(1)


@pytest.fixture(scope="module", params=BACKENDS)
def migrated_agents_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database migrated to head, one per backend for this module."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('agents')}/handoff.sqlite"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database(f"handoff_agents_{next(_fresh_names)}")
    engine = create_database_engine(url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_agents_engine: Engine) -> Iterator[Engine]:
    """The migrated engine, the agents table emptied after the test."""
    yield migrated_agents_engine
    with migrated_agents_engine.begin() as connection:
        connection.execute(Agent.__table__.delete())


@pytest.fixture
def store(engine: Engine) -> AgentStore:
    return AgentStore(engine, hasher=CHEAP)


def create(store: AgentStore, **overrides: Any) -> AgentRecord:
    values: dict[str, Any] = {
        "username": "ana.security",
        "display_name": "Ana Souza",
        "teams": ["security"],
        "password": PASSWORD,
        "now": NOW,
    }
    return store.create_agent(**{**values, **overrides})


def stored_hash(engine: Engine, username: str) -> str:
    with engine.connect() as connection:
        return connection.execute(
            select(Agent.password_hash).where(Agent.username == username)
        ).scalar_one()


# --- creating and reading -----------------------------------------------------------------


def test_create_agent_returns_the_record_without_the_hash(
    store: AgentStore, engine: Engine
) -> None:
    agent = create(
        store,
        username="  Ana.Security ",
        display_name=" Ana Souza ",
        role="supervisor",
        teams=["security", " general", "security"],
        capacity=5,
        now=NOW.astimezone(timezone(timedelta(hours=2))),
    )

    assert agent.username == "ana.security"
    assert agent.display_name == "Ana Souza"
    assert agent.role is AgentRole.SUPERVISOR
    assert agent.teams == ("security", "general")  # in order, without repeats
    assert agent.capacity == 5
    assert agent.active
    assert agent.created_at == NOW and agent.created_at.tzinfo == UTC
    assert len(agent.id) == 32
    assert not hasattr(agent, "password_hash")
    assert "argon2" not in repr(agent)
    assert store.get_agent(agent.id) == agent
    assert store.find_agent("ANA.SECURITY") == agent
    hashed = stored_hash(engine, "ana.security")
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed


def test_capacity_defaults_to_three(store: AgentStore) -> None:
    assert create(store).capacity == 3


def test_unknown_ids_and_names_are_none(store: AgentStore) -> None:
    assert store.get_agent("0" * 32) is None
    assert store.find_agent("nobody") is None
    assert store.list_agents() == []


def test_list_agents_is_by_username(store: AgentStore) -> None:
    for name in ("sam.supervisor", "ana.security", "ben.disputes"):
        create(store, username=name)

    assert [agent.username for agent in store.list_agents()] == [
        "ana.security",
        "ben.disputes",
        "sam.supervisor",
    ]


def test_a_taken_username_is_refused_whatever_its_case(store: AgentStore) -> None:
    first = create(store)

    with pytest.raises(AgentExists, match="'ana.security' exists already"):
        create(store, username="ANA.Security", display_name="Someone Else")

    assert store.list_agents() == [first]


def test_two_racing_creations_of_one_name_give_one_account(store: AgentStore) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(create(store))
        except AgentExists as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "AgentExists",
        "AgentRecord",
    ]
    assert len(store.list_agents()) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"teams": []}, "at least one team"),
        ({"teams": "security"}, "not one string"),
        ({"teams": ["security", " "]}, "1 to 64 characters"),
        ({"password": "seven77"}, "at least 8 characters"),
        ({"password": ""}, "at least 8 characters"),
        ({"password": "x" * 1025}, "at most 1024"),
        ({"username": ""}, "username"),
        ({"username": "ana security"}, "username"),
        ({"username": ".ana"}, "username"),
        ({"username": "a" * 65}, "username"),
        ({"display_name": "  "}, "display name"),
        ({"role": "boss"}, "role 'boss': use one of agent, supervisor"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": True}, "capacity"),
    ],
)
def test_invalid_accounts_are_refused(
    store: AgentStore, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidAgent, match=message) as excinfo:
        create(store, **overrides)

    assert isinstance(excinfo.value, ValueError)
    assert store.list_agents() == []


def test_an_eight_character_password_is_enough(store: AgentStore) -> None:
    create(store, password="12345678")

    assert store.authenticate("ana.security", "12345678") is not None


def test_a_naive_time_is_refused(store: AgentStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        create(store, now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("column", "value"),
    [("role", "boss"), ("capacity", 0), ("username", "Ana.Security")],
)
def test_the_database_enforces_the_constraints_too(
    engine: Engine, column: str, value: object
) -> None:
    row = {
        "id": "a" * 32,
        "username": "ana.security",
        "display_name": "Ana",
        "role": "agent",
        "teams": '["security"]',
        "capacity": 3,
        "password_hash": "x",
        "created_at": NOW.replace(tzinfo=None),
        column: value,
    }
    teams = "CAST(:teams AS JSONB)" if engine.dialect.name == "postgresql" else ":teams"
    statement = text(
        "INSERT INTO agents (id, username, display_name, role, teams, capacity, password_hash,"
        f" created_at) VALUES (:id, :username, :display_name, :role, {teams}, :capacity,"
        " :password_hash, :created_at)"
    )

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(statement, row)


def test_active_defaults_to_true_in_the_database(engine: Engine, store: AgentStore) -> None:
    teams = "CAST(:teams AS JSONB)" if engine.dialect.name == "postgresql" else ":teams"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO agents (id, username, display_name, role, teams, password_hash,"
                f" created_at) VALUES ('{'b' * 32}', 'raw', 'Raw', 'agent', {teams}, 'x', :at)"
            ),
            {"teams": '["general"]', "at": NOW.replace(tzinfo=None)},
        )

    agent = store.find_agent("raw")
    assert agent is not None and agent.active and agent.capacity == 3


# --- logging in ---------------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    """The cheap hasher, counting the verifications it does."""

    def __init__(self, **costs: int) -> None:
        super().__init__(**({"time_cost": 1, "memory_cost": 1024, "parallelism": 1} | costs))
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified += 1
        return super().verify(hash, password)


def test_authenticate_with_the_right_password(store: AgentStore) -> None:
    agent = create(store)

    assert store.authenticate("ana.security", PASSWORD) == agent
    assert store.authenticate(" ANA.security ", PASSWORD) == agent


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("ana.security", "wrong password"),
        ("ana.security", PASSWORD.upper()),
        ("ana.security", ""),
        ("nobody", PASSWORD),
        ("", PASSWORD),
        ("ana.security", "x" * 5000),
    ],
)
def test_authenticate_refuses_wrong_credentials(
    store: AgentStore, username: str, password: str
) -> None:
    create(store)

    assert store.authenticate(username, password) is None


def test_an_unknown_username_costs_a_verification_too(engine: Engine) -> None:
    hasher = CountingHasher()
    store = AgentStore(engine, hasher=hasher)
    create(store)

    assert store.authenticate("nobody", PASSWORD) is None
    assert store.authenticate("nobody-else", PASSWORD) is None
    assert store.authenticate("ana.security", "wrong password") is None

    assert hasher.verified == 3  # one Argon2 verification per attempt, known user or not


def test_an_inactive_agent_cannot_log_in(store: AgentStore, engine: Engine) -> None:
    agent = create(store)
    with engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == agent.id).values(active=False))

    assert store.authenticate("ana.security", PASSWORD) is None
    stored = store.get_agent(agent.id)
    assert stored is not None and not stored.active


def test_a_login_rehashes_a_password_hashed_with_old_parameters(engine: Engine) -> None:
    create(AgentStore(engine, hasher=CHEAP))
    old_hash = stored_hash(engine, "ana.security")
    stronger = AgentStore(engine, hasher=CountingHasher(time_cost=2))

    assert stronger.authenticate("ana.security", "wrong password") is None
    assert stored_hash(engine, "ana.security") == old_hash  # only a successful login rehashes

    assert stronger.authenticate("ana.security", PASSWORD) is not None
    new_hash = stored_hash(engine, "ana.security")
    assert new_hash != old_hash and ",t=2," in new_hash and ",t=1," in old_hash

    assert stronger.authenticate("ana.security", PASSWORD) is not None
    assert stored_hash(engine, "ana.security") == new_hash  # current: left alone


def test_the_default_hasher_is_argon2id_with_its_current_parameters(engine: Engine) -> None:
    store = AgentStore(engine)
    create(store)

    hashed = stored_hash(engine, "ana.security")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not PasswordHasher().check_needs_rehash(hashed)
    assert store.authenticate("ana.security", PASSWORD) is not None


# --- teams and the demo agents --------------------------------------------------------------


def test_policy_teams_are_the_matrix_teams() -> None:
    policy = load_policy(REPO / "data" / "escalation.yml")

    assert policy_teams(policy) == POLICY_TEAMS


def test_check_teams_names_the_unknown_and_the_known() -> None:
    check_teams(["security", "general"], POLICY_TEAMS)

    with pytest.raises(UnknownTeam, match="unknown team.s. fraud; .* routes to: compliance, ") as e:
        check_teams(["security", "fraud"], POLICY_TEAMS)
    assert e.value.unknown == {"fraud"}


def test_seed_demo_agents_is_idempotent(store: AgentStore) -> None:
    first = seed_demo_agents(store, known_teams=POLICY_TEAMS, now=NOW)
    second = seed_demo_agents(store, known_teams=POLICY_TEAMS, now=NOW + timedelta(days=1))

    assert [item.created for item in first] == [True] * len(DEMO_AGENTS)
    assert [item.created for item in second] == [False] * len(DEMO_AGENTS)
    assert [item.agent for item in first] == [item.agent for item in second]
    assert len(store.list_agents()) == len(DEMO_AGENTS)
    agents = [item.agent for item in first]
    assert {agent.role for agent in agents} == set(AgentRole)  # agents and a supervisor
    assert {team for agent in agents for team in agent.teams} == POLICY_TEAMS
    assert DEMO_LOGIN in {agent.username for agent in agents}
    for agent in agents:
        assert store.authenticate(agent.username, DEMO_PASSWORD) == agent


def test_seeding_leaves_an_existing_account_alone(store: AgentStore) -> None:
    mine = create(store, username=DEMO_LOGIN, password="my own password", capacity=7)

    seeded = seed_demo_agents(store, known_teams=POLICY_TEAMS, now=NOW)

    (kept,) = [item for item in seeded if item.agent.username == DEMO_LOGIN]
    assert kept.agent == mine and not kept.created
    assert store.authenticate(DEMO_LOGIN, DEMO_PASSWORD) is None
    assert store.authenticate(DEMO_LOGIN, "my own password") == mine


def test_seeding_with_a_team_the_policy_lacks_writes_nothing(store: AgentStore) -> None:
    with pytest.raises(UnknownTeam, match="compliance"):
        seed_demo_agents(store, known_teams=POLICY_TEAMS - {"compliance"}, now=NOW)

    assert store.list_agents() == []
