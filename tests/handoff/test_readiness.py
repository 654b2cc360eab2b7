"""Readiness probes against mocked HTTP answers, closed ports and real SQLite files."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from handoff.readiness import (
    ActionServerProbe,
    CheckResult,
    DatabaseProbe,
    RasaProbe,
    SentimentProbe,
    all_ok,
    check_all,
    default_probes,
)
from handoff.resources import (
    SentimentService,
    create_bank_engine,
    create_service_engine,
    open_resources,
)
from handoff.sentiment.batcher import MicroBatcher
from handoff.sentiment.reading import SentimentReading
from handoff.settings import (
    ActionsSettings,
    BankSettings,
    DatabaseSettings,
    RasaSettings,
    SentimentSettings,
    Settings,
)

Handler = Callable[[httpx.Request], httpx.Response]


def mock_client(handler: Handler) -> httpx.AsyncClient:
    """A client whose every request is answered by ``handler``, without a network."""
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def closed_port() -> int:
    """A local port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rasa_status(request: httpx.Request) -> httpx.Response:
    """Rasa 3.6 /status with a model loaded."""
    assert request.url.path == "/status"
    return httpx.Response(
        200,
        json={
            "model_file": "models/20241127-100000-banking.tar.gz",
            "model_id": "4f0e5d",
            "num_active_training_jobs": 0,
        },
    )


# --- Rasa ---------------------------------------------------------------------------------


async def test_rasa_probe_is_ok_when_a_model_is_loaded() -> None:
    async with mock_client(rasa_status) as client:
        result = await RasaProbe(client, "http://rasa:5005")()

    assert result.name == "rasa"
    assert result.ok
    assert result.detail == "model 20241127-100000-banking.tar.gz loaded"
    assert result.latency_ms >= 0


async def test_rasa_probe_fails_when_no_model_is_loaded() -> None:
    # What Rasa 3.6's ensure_loaded_agent answers while the agent has no model.
    def no_model(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409,
            json={
                "version": "3.6.20",
                "status": "failure",
                "message": "No agent loaded. To continue processing, a model of a trained "
                "agent needs to be loaded.",
                "reason": "Conflict",
                "code": 409,
            },
        )

    async with mock_client(no_model) as client:
        result = await RasaProbe(client, "http://rasa:5005")()

    assert not result.ok
    assert "no model loaded" in result.detail


async def test_rasa_probe_fails_when_status_names_no_model() -> None:
    def empty(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model_file": None, "model_id": None})

    async with mock_client(empty) as client:
        result = await RasaProbe(client, "http://rasa:5005")()

    assert not result.ok
    assert "no loaded model" in result.detail


async def test_rasa_probe_explains_a_missing_http_api() -> None:
    async with mock_client(lambda request: httpx.Response(404, text="Not Found")) as client:
        result = await RasaProbe(client, "http://rasa:5005")()

    assert not result.ok
    assert "--enable-api" in result.detail


async def test_rasa_probe_sends_the_token_and_never_shows_it() -> None:
    seen: list[httpx.URL] = []

    def server_error(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(500, text="boom")

    async with mock_client(server_error) as client:
        result = await RasaProbe(client, "http://rasa:5005", SecretStr("s3cret"))()

    assert seen[0].params["token"] == "s3cret"
    assert not result.ok
    assert "HTTP 500" in result.detail
    assert "s3cret" not in result.detail


async def test_rasa_probe_reports_a_refused_token() -> None:
    async with mock_client(lambda request: httpx.Response(401)) as client:
        result = await RasaProbe(client, "http://rasa:5005", SecretStr("wrong"))()

    assert not result.ok
    assert "HANDOFF_RASA__AUTH_TOKEN" in result.detail


async def test_rasa_probe_fails_when_the_server_is_down() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with httpx.AsyncClient() as client:
        result = await RasaProbe(client, url)()

    assert not result.ok
    assert f"cannot reach {url}/status" in result.detail
    assert "ConnectError" in result.detail


# --- action server ------------------------------------------------------------------------


async def test_action_server_probe_is_ok_on_health_ok() -> None:
    def health(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/health"
        return httpx.Response(200, json={"status": "ok"})

    async with mock_client(health) as client:
        result = await ActionServerProbe(client, "http://actions:5055")()

    assert result == CheckResult("action_server", True, "healthy", result.latency_ms)


@pytest.mark.parametrize(
    ("response", "detail"),
    [
        (httpx.Response(500, json={"status": "ok"}), "answered HTTP 500"),
        (httpx.Response(200, json={"status": "starting"}), "says status 'starting', not 'ok'"),
        (httpx.Response(200, json=["ok"]), "answered with a JSON list"),
        (httpx.Response(200, text="<html>ok</html>"), "answered with invalid JSON"),
    ],
    ids=["http-500", "status-not-ok", "json-list", "not-json"],
)
async def test_action_server_probe_fails_on_a_bad_answer(
    response: httpx.Response, detail: str
) -> None:
    async with mock_client(lambda request: response) as client:
        result = await ActionServerProbe(client, "http://actions:5055")()

    assert not result.ok
    assert result.detail == f"http://actions:5055/health {detail}"


async def test_action_server_probe_fails_when_the_server_is_down() -> None:
    async with httpx.AsyncClient() as client:
        result = await ActionServerProbe(client, f"http://127.0.0.1:{closed_port()}")()

    assert not result.ok
    assert "cannot reach" in result.detail


# --- databases ----------------------------------------------------------------------------


@pytest.fixture
def engines() -> Iterator[list[Engine]]:
    """Engines made by a test, disposed of afterwards."""
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


async def test_database_probe_is_ok_on_a_real_sqlite_file(
    tmp_path: Path, engines: list[Engine]
) -> None:
    url = f"sqlite:///{tmp_path}/var/handoff.sqlite"  # the folder does not exist yet
    engines.append(engine := create_service_engine(url))

    result = await DatabaseProbe("database", engine, url)()

    assert result.ok, result.detail
    assert result.detail == f"{url} answers"
    assert (tmp_path / "var" / "handoff.sqlite").is_file()


async def test_bank_probe_is_ok_on_an_existing_bank(tmp_path: Path, engines: list[Engine]) -> None:
    bank_file = tmp_path / "demobank.sqlite"
    sqlite3.connect(bank_file).close()
    url = f"sqlite:///{bank_file}"
    engines.append(engine := create_bank_engine(url))

    result = await DatabaseProbe("bank_database", engine, url)()

    assert result.ok, result.detail


async def test_bank_probe_fails_on_a_missing_bank_without_creating_it(
    tmp_path: Path, engines: list[Engine]
) -> None:
    bank_file = tmp_path / "demobank.sqlite"
    url = f"sqlite:///{bank_file}"
    engines.append(engine := create_bank_engine(url))

    result = await DatabaseProbe("bank_database", engine, url)()

    assert not result.ok
    assert result.detail == (f"cannot query {url}: OperationalError: unable to open database file")
    assert not bank_file.exists()


async def test_database_probe_fails_on_an_unusable_url(
    tmp_path: Path, engines: list[Engine]
) -> None:
    url = f"sqlite:///{tmp_path}"  # a folder, not a database file
    engines.append(engine := create_service_engine(url))

    result = await DatabaseProbe("database", engine, url)()

    assert not result.ok
    assert "OperationalError" in result.detail


async def test_database_probe_hides_the_password(engines: list[Engine]) -> None:
    url = "sqlite://user:hunter2@/"
    engines.append(engine := create_service_engine("sqlite://"))

    result = await DatabaseProbe("database", engine, url)()

    assert "hunter2" not in result.detail


# --- check_all ----------------------------------------------------------------------------


class SleepingProbe:
    """Answers ok after ``seconds``."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds

    async def __call__(self) -> CheckResult:
        await asyncio.sleep(self.seconds)
        return CheckResult(self.name, True, "slept", self.seconds * 1000)


class RaisingProbe:
    """A buggy probe: raises instead of returning a result."""

    name = "buggy"

    async def __call__(self) -> CheckResult:
        raise RuntimeError("probe exploded")


async def test_check_all_times_out_a_slow_probe() -> None:
    started = time.perf_counter()

    results = await check_all([SleepingProbe("slow", 30), SleepingProbe("quick", 0)], 0.1)

    assert time.perf_counter() - started < 5
    slow, quick = results
    assert slow.name == "slow"
    assert not slow.ok
    assert slow.detail == "no answer within 0.1 s"
    assert slow.latency_ms >= 100
    assert quick.ok


async def test_check_all_reports_a_raising_probe_instead_of_raising() -> None:
    results = await check_all([RaisingProbe(), SleepingProbe("fine", 0)], 1.0)

    assert results[0] == CheckResult(
        "buggy", False, "probe failed: RuntimeError: probe exploded", results[0].latency_ms
    )
    assert results[1].ok
    assert not all_ok(results)


async def test_check_all_runs_probes_concurrently_in_order() -> None:
    started = time.perf_counter()

    results = await check_all([SleepingProbe(f"p{i}", 0.3) for i in range(5)], 5.0)

    assert time.perf_counter() - started < 1.2  # sequentially it would take 1.5 s
    assert [result.name for result in results] == ["p0", "p1", "p2", "p3", "p4"]
    assert all_ok(results)


# --- the default probes -------------------------------------------------------------------


@pytest.fixture
async def nothing_running(tmp_path: Path) -> AsyncIterator[list[CheckResult]]:
    """The default probes' results with Rasa and the action server down and no bank file."""
    settings = Settings(
        rasa=RasaSettings(url=f"http://127.0.0.1:{closed_port()}"),
        actions=ActionsSettings(url=f"http://127.0.0.1:{closed_port()}"),
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
        bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
        sentiment=SentimentSettings(model_dir=tmp_path / "no-sentiment-model"),
    )
    async with open_resources(settings) as resources:
        yield await check_all(default_probes(settings, resources), 2.0)


async def test_default_probes_cover_every_dependency(nothing_running: list[CheckResult]) -> None:
    assert [(result.name, result.ok) for result in nothing_running] == [
        ("rasa", False),
        ("action_server", False),
        ("database", True),
        ("bank_database", False),
        ("sentiment", False),
    ]


# --- sentiment ------------------------------------------------------------------------------


class FakeScorer:
    """Scores instantly, or raises ``error`` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def score(self, texts: Sequence[str]) -> list[SentimentReading]:
        if self.error is not None:
            raise self.error
        return [SentimentReading("neutral", {"neutral": 1.0}, 0.0) for _ in texts]


async def test_sentiment_probe_is_ok_when_the_batcher_scores(tmp_path: Path) -> None:
    async with MicroBatcher(FakeScorer(), max_wait_ms=0) as batcher:
        result = await SentimentProbe(SentimentService(tmp_path / "sentiment", batcher=batcher))()

    assert result.ok
    assert result.detail == "model sentiment loaded"


async def test_sentiment_probe_reports_why_no_model_was_loaded(tmp_path: Path) -> None:
    problem = f"no sentiment model at {tmp_path}: build it with `make models`"

    result = await SentimentProbe(SentimentService(tmp_path, problem=problem))()

    assert not result.ok
    assert result.detail == problem


async def test_sentiment_probe_fails_when_scoring_fails(tmp_path: Path) -> None:
    scorer = FakeScorer(RuntimeError("out of memory"))
    async with MicroBatcher(scorer, max_wait_ms=0) as batcher:
        result = await SentimentProbe(SentimentService(tmp_path, batcher=batcher))()

    assert not result.ok
    assert result.detail == "cannot score: RuntimeError: out of memory"


async def test_sentiment_probe_fails_after_the_batcher_closed(tmp_path: Path) -> None:
    batcher = MicroBatcher(FakeScorer())
    batcher.start()
    await batcher.aclose()

    result = await SentimentProbe(SentimentService(tmp_path, batcher=batcher))()

    assert not result.ok
    assert "not running" in result.detail


async def test_a_broken_sentiment_model_is_reported_not_raised(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
        bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
        sentiment=SentimentSettings(model_dir=broken),
    )

    async with open_resources(settings) as resources:
        result = await SentimentProbe(resources.sentiment)()

    assert not result.ok
    assert result.detail.startswith(f"cannot load the sentiment model at {broken}")
    assert "`make models`" in result.detail
