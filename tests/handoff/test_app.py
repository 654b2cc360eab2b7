"""The HTTP app: liveness, readiness (200/503) and the OpenAPI docs."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from handoff.app import create_app
from handoff.readiness import CheckResult, Probe
from handoff.settings import (
    ActionsSettings,
    BankSettings,
    DatabaseSettings,
    LimitsSettings,
    RasaSettings,
    SentimentSettings,
    Settings,
)


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
    return Settings(
        rasa=RasaSettings(url=f"http://127.0.0.1:{closed_port()}"),
        actions=ActionsSettings(url=f"http://127.0.0.1:{closed_port()}"),
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
        bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
        sentiment=SentimentSettings(model_dir=tmp_path / "no-sentiment-model"),
    )


@contextmanager
def running(settings: Settings, probes: Sequence[Probe] | None = None) -> Iterator[TestClient]:
    """A client of the app, inside its lifespan (which opens the shared clients)."""
    with TestClient(create_app(settings, probes)) as client:
        yield client


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


def test_healthz_is_alive_even_when_dependencies_fail(unready_app: TestClient) -> None:
    response = unready_app.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_is_200_when_every_check_passes(ready_app: TestClient) -> None:
    response = ready_app.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": [
            {"name": "rasa", "ok": True, "detail": "fine", "latency_ms": 1.0},
            {"name": "database", "ok": True, "detail": "fine", "latency_ms": 1.0},
        ],
    }


def test_readyz_is_503_and_lists_the_failing_check(unready_app: TestClient) -> None:
    response = unready_app.get("/readyz")

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


def test_readyz_reports_a_raising_probe_as_503_not_500(settings: Settings) -> None:
    with running(settings, [RaisingProbe()]) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"][0]["detail"] == "probe failed: RuntimeError: probe exploded"


def test_readyz_with_the_real_probes_and_nothing_running(settings: Settings) -> None:
    with running(settings) as client:
        response = client.get("/readyz")

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
        response = client.get("/readyz")
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
        first = client.get("/readyz").json()
        second = client.get("/readyz").json()
        assert client.app.state.sentiment.classifier is sentiment.classifier
    assert not sentiment.batcher.running  # closed with the app

    for body in (first, second):
        check = next(c for c in body["checks"] if c["name"] == "sentiment")
        assert check["ok"], check["detail"]
        assert check["detail"] == f"model {tiny_sentiment_model.name} loaded"


def test_openapi_docs_are_served(ready_app: TestClient) -> None:
    assert ready_app.get("/docs").status_code == 200
    schema = ready_app.get("/openapi.json").json()
    assert {"/healthz", "/readyz"} <= set(schema["paths"])
    assert "503" in schema["paths"]["/readyz"]["get"]["responses"]


def test_the_service_builds_its_limiters_from_the_settings(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"limits": LimitsSettings(login_max_failures_per_account=2)}
    )
    with running(settings, [FixedProbe("rasa", True)]) as client:
        login = {"username": "nobody", "password": "not the password"}
        statuses = [client.post("/api/agents/login", json=login).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
