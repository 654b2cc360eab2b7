"""The HTTP app: liveness, readiness (200/503, details for supervisors) and the OpenAPI docs."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from deployment_secrets import secured
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from handoff.agents.accounts import AgentStore
from handoff.agents.tokens import issue_agent_token
from handoff.app import create_app
from handoff.exceptions import ConfigurationError
from handoff.readiness import CheckResult, Probe
from handoff.request_bodies import StrictJsonRoute
from handoff.settings import (
    DEMO_AGENT_TOKEN_SECRET,
    DEMO_IDENTITY_SECRET,
    DEMO_MODE_WARNING,
    ActionsSettings,
    AgentSettings,
    BankSettings,
    DatabaseSettings,
    IdentitySettings,
    LimitsSettings,
    RasaSettings,
    SentimentSettings,
    Settings,
)
from handoff.store.states import AgentRole


class FixedProbe:
    """A probe with a fixed answer."""

    def __init__(self, name: str, ok: bool, detail: str = "") -> None:
        self.name = name
        self._result = CheckResult(name, ok, detail or ("fine" if ok else "broken"), 1.0)

    async def __call__(self) -> CheckResult:
        return self._result


class RaisingProbe:
    """A buggy probe."""

    name = "buggy"

    async def __call__(self) -> CheckResult:
        raise RuntimeError("probe exploded")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings that point at nothing running and at databases under ``tmp_path``."""
    return secured(
        Settings(
            rasa=RasaSettings(url=f"http://127.0.0.1:{closed_port()}"),
            actions=ActionsSettings(url=f"http://127.0.0.1:{closed_port()}"),
            database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
            bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
            sentiment=SentimentSettings(model_dir=tmp_path / "no-sentiment-model"),
        )
    )


@contextmanager
def running(settings: Settings, probes: Sequence[Probe] | None = None) -> Iterator[TestClient]:
    """A client of the app, inside its lifespan (which opens the shared clients)."""
    with TestClient(create_app(settings, probes)) as client:
        yield client


def bearer(client: TestClient, role: AgentRole = AgentRole.SUPERVISOR) -> dict[str, str]:
    """An ``Authorization`` header of a fresh account with ``role`` in the app's database."""
    store: AgentStore = client.app.state.agent_store  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    agent = store.create_agent(
        username=f"{role.value}.{uuid.uuid4().hex[:12]}",
        display_name="Readiness reader",
        role=role,
        teams=["general"],
        password="a password for the readiness tests",
        now=now,
    )
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    token = issue_agent_token(
        agent, secret=settings.agents.token_secret, now=now, ttl=timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


def detailed_readyz(client: TestClient) -> object:
    """``/readyz`` as a supervisor sees it."""
    return client.get("/readyz", headers=bearer(client))


@pytest.fixture
def ready_app(settings: Settings) -> Iterator[TestClient]:
    with running(settings, [FixedProbe("rasa", True), FixedProbe("database", True)]) as client:
        yield client


@pytest.fixture
def unready_app(settings: Settings) -> Iterator[TestClient]:
    probes = [
        FixedProbe("rasa", False, "Rasa is up but has no model loaded"),
        FixedProbe("db", True),
    ]
    with running(settings, probes) as client:
        yield client


@pytest.mark.parametrize(
    ("group", "changes", "named"),
    [
        ("identity", {"secret": None}, "HANDOFF_IDENTITY__SECRET"),
        ("identity", {"secret": SecretStr(DEMO_IDENTITY_SECRET)}, "HANDOFF_IDENTITY__SECRET"),
        ("agents", {"token_secret": None}, "HANDOFF_AGENTS__TOKEN_SECRET"),
        (
            "agents",
            {"token_secret": SecretStr(DEMO_AGENT_TOKEN_SECRET)},
            "HANDOFF_AGENTS__TOKEN_SECRET",
        ),
        ("rasa", {"auth_token": None}, "HANDOFF_RASA__AUTH_TOKEN"),
        ("rasa", {"channel_token": None}, "HANDOFF_RASA__CHANNEL_TOKEN"),
    ],
)
def test_the_service_refuses_to_start_without_its_secrets_naming_the_setting(
    settings: Settings, group: str, changes: dict[str, Any], named: str
) -> None:
    unsafe = settings.model_copy(
        update={group: getattr(settings, group).model_copy(update=changes)}
    )

    with pytest.raises(ConfigurationError, match=named), running(unsafe):
        pass


def test_demo_mode_starts_with_the_demo_secrets_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    demo = settings.model_copy(
        update={
            "demo_mode": True,
            "identity": IdentitySettings(secret=DEMO_IDENTITY_SECRET),
            "agents": AgentSettings(token_secret=DEMO_AGENT_TOKEN_SECRET),
        }
    )

    with running(demo, [FixedProbe("rasa", True)]) as client:
        assert client.get("/healthz").status_code == 200
    assert DEMO_MODE_WARNING in caplog.text


def test_healthz_is_alive_even_when_dependencies_fail(unready_app: TestClient) -> None:
    response = unready_app.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_200_and_names_the_checks_without_their_details(ready_app: TestClient) -> None:
    response = ready_app.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": [{"name": "rasa", "ok": True}, {"name": "database", "ok": True}],
    }


def test_readyz_shows_a_supervisor_every_checks_details(ready_app: TestClient) -> None:
    response = detailed_readyz(ready_app)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": [
            {"name": "rasa", "ok": True, "detail": "fine", "latency_ms": 1.0},
            {"name": "database", "ok": True, "detail": "fine", "latency_ms": 1.0},
        ],
    }


def test_readyz_is_503_and_names_the_failing_check_to_anyone(unready_app: TestClient) -> None:
    response = unready_app.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": [{"name": "rasa", "ok": False}, {"name": "db", "ok": True}],
    }
    assert "Rasa" not in response.text


def test_readyz_is_503_and_tells_a_supervisor_why(unready_app: TestClient) -> None:
    response = detailed_readyz(unready_app)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"] == [
        {
            "name": "rasa",
            "ok": False,
            "detail": "Rasa is up but has no model loaded",
            "latency_ms": 1.0,
        },
        {"name": "db", "ok": True, "detail": "fine", "latency_ms": 1.0},
    ]


def test_readyz_hides_details_from_an_agent_who_is_not_a_supervisor(
    ready_app: TestClient,
) -> None:
    response = ready_app.get("/readyz", headers=bearer(ready_app, AgentRole.AGENT))

    assert response.status_code == 403
    assert "fine" not in response.text


def test_readyz_refuses_a_token_that_is_not_valid(ready_app: TestClient) -> None:
    response = ready_app.get("/readyz", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    assert "fine" not in response.text


def test_readyz_never_shows_where_the_databases_and_models_are(settings: Settings) -> None:
    with running(settings) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert set(response.json()["checks"][0]) == {"name", "ok"}
    for secret in ("sqlite", str(settings.sentiment.model_dir), "127.0.0.1", "make models"):
        assert secret not in response.text


def test_readyz_reports_a_raising_probe_as_503_not_500(settings: Settings) -> None:
    with running(settings, [RaisingProbe()]) as client:
        response = detailed_readyz(client)

    assert response.status_code == 503
    assert response.json()["checks"][0]["detail"] == "probe failed: RuntimeError: probe exploded"


def test_readyz_with_the_real_probes_and_nothing_running(settings: Settings) -> None:
    with running(settings) as client:
        response = detailed_readyz(client)

    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert set(checks) == {"rasa", "action_server", "database", "bank_database", "sentiment"}
    assert checks["database"]["ok"]
    assert not checks["rasa"]["ok"]
    assert "cannot reach" in checks["rasa"]["detail"]
    assert not checks["action_server"]["ok"]
    assert "unable to open database file" in checks["bank_database"]["detail"]
    assert not checks["sentiment"]["ok"]
    assert "make models" in checks["sentiment"]["detail"]


def test_a_missing_sentiment_model_keeps_the_service_alive_but_not_ready(
    settings: Settings,
) -> None:
    with running(settings) as client:
        assert client.get("/healthz").status_code == 200
        response = detailed_readyz(client)
        assert not client.app.state.sentiment.available

    assert response.status_code == 503
    sentiment = next(c for c in response.json()["checks"] if c["name"] == "sentiment")
    assert sentiment["ok"] is False
    assert str(settings.sentiment.model_dir) in sentiment["detail"]
    assert "`make models`" in sentiment["detail"]


def test_the_sentiment_model_is_loaded_once_at_start_up(
    settings: Settings, tiny_sentiment_model: Path
) -> None:
    settings = settings.model_copy(
        update={"sentiment": SentimentSettings(model_dir=tiny_sentiment_model, threads=1)}
    )
    with running(settings) as client:
        sentiment = client.app.state.sentiment
        assert sentiment.available
        first = detailed_readyz(client).json()
        second = detailed_readyz(client).json()
        assert client.app.state.sentiment.classifier is sentiment.classifier
    assert not sentiment.batcher.running  # closed with the app

    for body in (first, second):
        check = next(c for c in body["checks"] if c["name"] == "sentiment")
        assert check["ok"], check["detail"]
        # No ONNX export in the tiny model's folder: torch, in the precision this CPU gets.
        assert check["detail"].startswith(f"model {tiny_sentiment_model.name} loaded (torch, ")


def test_openapi_docs_are_served(ready_app: TestClient) -> None:
    assert ready_app.get("/docs").status_code == 200
    schema = ready_app.get("/openapi.json").json()
    assert {"/healthz", "/readyz"} <= set(schema["paths"])
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]


def test_every_rest_route_reads_its_body_strictly(settings: Settings) -> None:
    # One route class for the whole service: a router built without it would answer a body
    # holding NaN or a lone surrogate with a 500 again.
    app = create_app(settings)
    routes = [
        route
        for top in app.routes
        for route in getattr(getattr(top, "original_router", None), "routes", [top])
    ]
    api_routes = [route for route in routes if isinstance(route, APIRoute)]
    assert {route.path for route in api_routes} >= {"/healthz", "/api/agents/login", "/"}
    assert [r.path for r in api_routes if not isinstance(r, StrictJsonRoute)] == []


def test_the_service_builds_its_limiters_from_the_settings(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"limits": LimitsSettings(login_max_failures_per_account=2)}
    )
    with running(settings, [FixedProbe("rasa", True)]) as client:
        login = {"username": "nobody", "password": "not the password"}
        statuses = [client.post("/api/agents/login", json=login).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
