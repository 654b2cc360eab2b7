"""The agents' REST routes, on a tiny app around the router and a migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from handoff.agents.accounts import AgentRecord, AgentStore
from handoff.agents.routes import agent_clock, router
from handoff.agents.tokens import issue_agent_token, verify_agent_token
from handoff.app import create_app
from handoff.gateway.identity import sign_identity_token
from handoff.limits import ServiceLimits
from handoff.settings import AgentSettings, LimitsSettings, Settings
from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Agent

SECRET = "agent-routes-test-secret-of-32-characters-or-more"
NOW = datetime(2026, 5, 27, 9, 30, 15, 123456, tzinfo=UTC)
PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # tests only


@dataclass
class Clock:
    now: datetime


@dataclass
class Desk:
    client: TestClient
    engine: Engine
    agent: AgentRecord
    clock: Clock


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    engine = create_database_engine(f"sqlite:///{tmp_path}/handoff.sqlite")
    upgrade_database(engine)
    store = AgentStore(engine, hasher=CHEAP)
    agent = store.create_agent(
        username="ana.security",
        display_name="Ana Souza",
        teams=["security", "general"],
        password=PASSWORD,
        now=NOW,
    )
    clock = Clock(NOW)
    app = FastAPI()
    app.include_router(router)
    app.state.agent_store = store
    app.state.settings = Settings(agents=AgentSettings(token_secret=SECRET))
    app.state.limits = ServiceLimits.from_settings(app.state.settings.limits)
    app.dependency_overrides[agent_clock] = lambda: clock.now
    with TestClient(app) as client:
        yield Desk(client, engine, agent, clock)
    engine.dispose()


def log_in(desk: Desk, username: str = "ana.security", password: str = PASSWORD) -> str:
    response = desk.client.post(
        "/api/agents/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def me(desk: Desk, authorization: str | None) -> tuple[int, dict[str, object], str | None]:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = desk.client.get("/api/agents/me", headers=headers)
    return response.status_code, response.json(), response.headers.get("www-authenticate")


def test_login_gives_a_token_its_expiry_and_the_agent(desk: Desk) -> None:
    response = desk.client.post(
        "/api/agents/login", json={"username": "Ana.Security", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    expires_at = NOW.replace(microsecond=0) + timedelta(hours=8)
    assert datetime.fromisoformat(body["expires_at"]) == expires_at
    assert body["agent"] == {
        "id": desk.agent.id,
        "username": "ana.security",
        "display_name": "Ana Souza",
        "role": "agent",
        "teams": ["security", "general"],
    }
    claims = verify_agent_token(body["token"], secret=SECRET, now=NOW)
    assert claims.agent_id == desk.agent.id
    assert claims.expires_at == expires_at
    assert "hash" not in response.text and "argon2" not in response.text


@pytest.mark.parametrize(
    ("username", "password"),
    [("ana.security", "wrong password"), ("nobody", PASSWORD), ("ana.security", PASSWORD + " ")],
)
def test_bad_credentials_are_a_401_that_does_not_say_which(
    desk: Desk, username: str, password: str
) -> None:
    response = desk.client.post(
        "/api/agents/login", json={"username": username, "password": password}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "unknown username or wrong password"}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "ana.security"}, {"username": "", "password": PASSWORD}, "not json"],
)
def test_a_malformed_login_is_a_422(desk: Desk, body: object) -> None:
    assert desk.client.post("/api/agents/login", json=body).status_code == 422


HOSTILE_LOGINS = {  # raw bodies that used to be a 500
    "lone-surrogate": '{"username": "ana\\ud800", "password": "correct horse battery"}',
    "surrogate-password": '{"username": "ana.security", "password": "x\\udc00"}',
    "nan": '{"username": NaN, "password": "correct horse battery"}',
    "infinity": '{"username": "ana.security", "password": Infinity}',
    "minus-infinity": '{"username": -Infinity, "password": "x"}',
    "float-overflow": '{"username": "ana.security", "password": 1e400}',
}


@pytest.mark.parametrize("body", HOSTILE_LOGINS.values(), ids=HOSTILE_LOGINS.keys())
def test_a_login_body_the_service_cannot_read_is_a_422_not_a_500(desk: Desk, body: str) -> None:
    response = desk.client.post(
        "/api/agents/login", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and "send" in error["msg"]


def test_an_inactive_agent_cannot_log_in(desk: Desk) -> None:
    deactivate(desk)

    response = desk.client.post(
        "/api/agents/login", json={"username": "ana.security", "password": PASSWORD}
    )

    assert response.status_code == 401


def attempt(desk: Desk, username: str, password: str) -> httpx.Response:
    return desk.client.post("/api/agents/login", json={"username": username, "password": password})


def limit_logins(desk: Desk, **settings: float) -> None:
    app = desk.client.app
    assert isinstance(app, FastAPI)
    app.state.limits = ServiceLimits.from_settings(LimitsSettings(**settings))


def test_after_repeated_failures_even_the_right_password_is_refused_until_the_lockout_ends(
    desk: Desk,
) -> None:
    statuses = [attempt(desk, "ana.security", f"guess {n}").status_code for n in range(30)]
    assert statuses == [401] * 10 + [429] * 20

    desk.clock.now = NOW + timedelta(minutes=5)
    locked = attempt(desk, "ana.security", PASSWORD)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "600"  # 15 minutes from the tenth failure
    assert locked.json() == {"detail": "too many failed logins: retry in 600 s"}

    desk.clock.now = NOW + timedelta(minutes=15)
    assert attempt(desk, "Ana.Security", PASSWORD).status_code == 200


def test_an_unknown_username_is_locked_out_exactly_like_a_real_one(desk: Desk) -> None:
    limit_logins(desk, login_max_failures_per_address=100)
    for n in range(10):
        attempt(desk, "ana.security", f"guess {n}")
        attempt(desk, "nobody", f"guess {n}")
    real, unknown = attempt(desk, "ana.security", "x"), attempt(desk, "nobody", "x")
    assert (real.status_code, real.json(), real.headers["retry-after"]) == (
        unknown.status_code,
        unknown.json(),
        unknown.headers["retry-after"],
    )
    assert real.status_code == 429


def test_a_success_forgives_the_accounts_failures(desk: Desk) -> None:
    for n in range(9):
        assert attempt(desk, "ana.security", f"guess {n}").status_code == 401
    assert attempt(desk, "ana.security", PASSWORD).status_code == 200
    # Counted from zero again: nine more failures are allowed, the tenth locks.
    statuses = [attempt(desk, "ana.security", f"again {n}").status_code for n in range(11)]
    assert statuses == [401] * 10 + [429]


def test_an_address_guessing_many_accounts_is_locked_and_its_own_login_does_not_unlock_it(
    desk: Desk,
) -> None:
    limit_logins(desk, login_max_failures_per_address=5)
    for n in range(4):
        assert attempt(desk, f"victim{n}", "guess").status_code == 401
    # The guesser's own account, right password: it does not clear the failures for others.
    assert attempt(desk, "ana.security", PASSWORD).status_code == 200
    assert attempt(desk, "victim9", "guess").status_code == 401  # the fifth failure locks
    refused = attempt(desk, "ana.security", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 900


def test_me_answers_the_tokens_agent(desk: Desk) -> None:
    token = log_in(desk)

    status, body, _ = me(desk, f"Bearer {token}")

    assert status == 200
    assert body == {
        "id": desk.agent.id,
        "username": "ana.security",
        "display_name": "Ana Souza",
        "role": "agent",
        "teams": ["security", "general"],
    }


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "send Authorization: Bearer <token>"),
        ("Bearer not-a-token", "malformed: not a valid agent token"),
        ("Basic YW5hOnBhc3N3b3Jk", "send Authorization: Bearer <token>"),
    ],
)
def test_me_without_a_valid_token_is_a_401(
    desk: Desk, authorization: str | None, detail: str
) -> None:
    status, body, challenge = me(desk, authorization)

    assert status == 401
    assert str(body["detail"]).startswith(detail)
    assert challenge == "Bearer"


def test_me_with_an_expired_token_says_to_log_in_again(desk: Desk) -> None:
    token = log_in(desk)
    desk.clock.now = NOW + timedelta(hours=8, minutes=1)

    status, body, _ = me(desk, f"Bearer {token}")

    assert (status, body) == (401, {"detail": "expired: log in again"})


def test_me_refuses_a_customer_identity_token(desk: Desk) -> None:
    customer_token = sign_identity_token("cus_1001", secret=SECRET, now=NOW, ttl=timedelta(hours=1))

    status, body, _ = me(desk, f"Bearer {customer_token}")

    assert (status, body) == (401, {"detail": "wrong_type: not a valid agent token"})


def test_me_refuses_a_token_signed_with_another_secret(desk: Desk) -> None:
    token = issue_agent_token(
        desk.agent,
        secret="another-secret-of-32-characters-or-more-too",
        now=NOW,
        ttl=timedelta(hours=1),
    )

    status, body, _ = me(desk, f"Bearer {token}")

    assert (status, body) == (401, {"detail": "bad_signature: not a valid agent token"})


def test_me_refuses_an_agent_deactivated_after_login(desk: Desk) -> None:
    token = log_in(desk)
    deactivate(desk)

    status, body, _ = me(desk, f"Bearer {token}")

    assert status == 401
    assert "deactivated" in str(body["detail"])


def test_the_service_app_serves_the_agent_routes(tmp_path: Path) -> None:
    # Only the routing table: the lifespan (models, Rasa) is not started.
    app = create_app(Settings(database={"url": f"sqlite:///{tmp_path}/handoff.sqlite"}))

    paths = app.openapi()["paths"]

    assert set(paths["/api/agents/login"]) == {"post"}
    assert set(paths["/api/agents/me"]) == {"get"}


def deactivate(desk: Desk) -> None:
    with desk.engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == desk.agent.id).values(active=False))
