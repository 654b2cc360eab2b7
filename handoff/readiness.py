"""Readiness: can the service do its job right now?

A :class:`Probe` checks one dependency and returns a :class:`CheckResult`. :func:`check_all`
runs probes concurrently under a per-probe time limit and never raises: a probe that raises or
runs out of time becomes a failed check that says why. :func:`default_probes` builds the real
probes on the service's shared clients (and its loaded sentiment classifier), so a check
exercises what the service itself uses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Protocol

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from handoff.exceptions import DependencyUnavailable
from handoff.http_client import describe_failure
from handoff.resources import Resources, SentimentService
from handoff.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one probe: ``detail`` says what was found, or why it failed."""

    name: str
    ok: bool
    detail: str
    latency_ms: float


class Probe(Protocol):
    """Checks one dependency. ``name`` labels the check even when the probe fails to answer."""

    @property
    def name(self) -> str:
        """A short, stable label such as ``"rasa"``."""
        ...

    async def __call__(self) -> CheckResult:
        """Check the dependency once."""
        ...


def all_ok(results: Sequence[CheckResult]) -> bool:
    """Whether every check passed."""
    return all(result.ok for result in results)


async def check_all(probes: Sequence[Probe], timeout_seconds: float) -> list[CheckResult]:
    """Run ``probes`` concurrently, each limited to ``timeout_seconds``; results keep their order.

    Never raises for a probe's sake: a timeout or an exception is reported as a failed check.
    """
    return list(await asyncio.gather(*(_run_probe(probe, timeout_seconds) for probe in probes)))


async def _run_probe(probe: Probe, timeout_seconds: float) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_seconds):
            return await probe()
    except TimeoutError:
        detail = f"no answer within {timeout_seconds:g} s"
        logger.info("readiness probe %s timed out after %g s", probe.name, timeout_seconds)
    except Exception as exc:
        # The probes below report expected failures as results; reaching here is a bug in a
        # probe, so it is logged with its traceback but still only fails the check.
        detail = f"probe failed: {type(exc).__name__}: {exc}"
        logger.warning("readiness probe %s raised", probe.name, exc_info=True)
    return CheckResult(probe.name, ok=False, detail=detail, latency_ms=_elapsed_ms(started))


class DependencyProbe(ABC):
    """Base of the real probes: times :meth:`check` and turns its outcome into a result.

    :meth:`check` returns a short description on success and raises
    :class:`~handoff.exceptions.DependencyUnavailable` when the dependency cannot serve.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """The label of this probe's check."""
        return self._name

    async def __call__(self) -> CheckResult:
        """Check the dependency once; an unavailable dependency is a failed check."""
        started = time.perf_counter()
        try:
            detail = await self.check()
        except DependencyUnavailable as exc:
            return CheckResult(
                self.name, ok=False, detail=exc.reason, latency_ms=_elapsed_ms(started)
            )
        return CheckResult(self.name, ok=True, detail=detail, latency_ms=_elapsed_ms(started))

    @abstractmethod
    async def check(self) -> str:
        """Describe the healthy dependency, or raise ``DependencyUnavailable``."""


class RasaProbe(DependencyProbe):
    """Rasa is ready when its HTTP API answers ``GET /status`` with the loaded model.

    Rasa 3.6 serves ``/status`` only with ``--enable-api`` (404 otherwise) and answers 409 while
    no model is loaded; an auth token, if Rasa was started with one, goes in ``?token=``.
    """

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, auth_token: SecretStr | None = None
    ) -> None:
        super().__init__("rasa")
        self._client = client
        self._status_url = f"{base_url}/status"
        self._auth_token = auth_token

    async def check(self) -> str:
        """Describe the loaded model, or raise ``DependencyUnavailable``."""
        params = (
            {"token": self._auth_token.get_secret_value()} if self._auth_token is not None else None
        )
        response = await _get(self.name, self._client, self._status_url, params=params)
        if response.status_code == httpx.codes.CONFLICT:
            raise DependencyUnavailable(self.name, "Rasa is up but has no model loaded")
        if response.status_code == httpx.codes.NOT_FOUND:
            raise DependencyUnavailable(
                self.name, f"{self._status_url} not found: is Rasa running with --enable-api?"
            )
        if response.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise DependencyUnavailable(
                self.name,
                f"Rasa refused the request (HTTP {response.status_code}): "
                "check HANDOFF_RASA__AUTH_TOKEN",
            )
        body = _json_object(self.name, self._status_url, response)
        model_file = body.get("model_file")
        if not isinstance(model_file, str) or not model_file:
            raise DependencyUnavailable(self.name, "Rasa /status names no loaded model")
        return f"model {PurePath(model_file).name} loaded"


class ActionServerProbe(DependencyProbe):
    """The rasa-sdk action server is ready when ``GET /health`` says ``{"status": "ok"}``."""

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        super().__init__("action_server")
        self._client = client
        self._health_url = f"{base_url}/health"

    async def check(self) -> str:
        """Confirm the action server's health answer, or raise ``DependencyUnavailable``."""
        response = await _get(self.name, self._client, self._health_url)
        body = _json_object(self.name, self._health_url, response)
        if body.get("status") != "ok":
            raise DependencyUnavailable(
                self.name, f"{self._health_url} says status {body.get('status')!r}, not 'ok'"
            )
        return "healthy"


class DatabaseProbe(DependencyProbe):
    """A database is ready when ``SELECT 1`` succeeds on its engine.

    SQLAlchemy is synchronous, so the query runs in a worker thread to keep the event loop free.
    """

    def __init__(self, name: str, engine: Engine, url: str) -> None:
        super().__init__(name)
        self._engine = engine
        # The configured URL, for messages: the engine's own may be rewritten (read-only SQLite).
        self._display_url = make_url(url).render_as_string(hide_password=True)

    async def check(self) -> str:
        """Run ``SELECT 1``, or raise ``DependencyUnavailable`` with the driver's reason."""
        await asyncio.to_thread(self._select_one)
        return f"{self._display_url} answers"

    def _select_one(self) -> None:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1")).scalar_one()
        except SQLAlchemyError as exc:
            # The driver's own message ("unable to open database file", "connection refused")
            # without SQLAlchemy's SQL echo and background link.
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise DependencyUnavailable(
                self.name, f"cannot query {self._display_url}: {type(exc).__name__}: {reason}"
            ) from exc


class SentimentProbe(DependencyProbe):
    """The sentiment classifier is ready when it was loaded at start-up and scores a message.

    The canary goes through the service's own batcher, so the check exercises the path that
    conversations use. A model missing at start-up stays missing until a restart: the failed
    check says which folder was looked at and the command that builds the model.
    """

    CANARY = "Hello, I have a question about my card."

    def __init__(self, sentiment: SentimentService) -> None:
        super().__init__("sentiment")
        self._sentiment = sentiment

    async def check(self) -> str:
        """Score the canary message, or raise ``DependencyUnavailable`` saying why not."""
        batcher = self._sentiment.batcher
        if batcher is None or not batcher.running:
            raise DependencyUnavailable(
                self.name, self._sentiment.problem or "the sentiment batcher is not running"
            )
        try:
            await batcher.score(self.CANARY)
        except Exception as exc:  # a model that loaded but cannot score is not ready
            raise DependencyUnavailable(
                self.name, f"cannot score: {type(exc).__name__}: {exc}"
            ) from exc
        detail = f"model {self._sentiment.model_dir.name} loaded"
        classifier = self._sentiment.classifier
        if classifier is None:
            return detail
        return f"{detail} ({classifier.runtime.value}, {classifier.precision.value})"


def default_probes(settings: Settings, resources: Resources) -> list[Probe]:
    """The probes of every dependency the service needs, built on its shared clients."""
    return [
        RasaProbe(resources.http_client, settings.rasa.url, settings.rasa.auth_token),
        ActionServerProbe(resources.http_client, settings.actions.url),
        DatabaseProbe("database", resources.service_engine, settings.database.url),
        DatabaseProbe("bank_database", resources.bank_engine, settings.bank.url),
        SentimentProbe(resources.sentiment),
    ]


async def _get(
    dependency: str,
    client: httpx.AsyncClient,
    url: str,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    # Transport failures (refused, DNS, reset) become DependencyUnavailable; the status code
    # is left to the caller, which knows which error answers mean something particular.
    try:
        return await client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise DependencyUnavailable(
            dependency, f"cannot reach {url}: {describe_failure(exc)}"
        ) from exc


def _json_object(dependency: str, url: str, response: httpx.Response) -> dict[str, object]:
    # The body of a successful answer, which must be a JSON object. ``url`` is the one to show:
    # the request's own URL may carry the auth token.
    if not response.is_success:
        raise DependencyUnavailable(dependency, f"{url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise DependencyUnavailable(dependency, f"{url} answered with invalid JSON") from exc
    if not isinstance(body, dict):
        raise DependencyUnavailable(dependency, f"{url} answered with a JSON {type(body).__name__}")
    return body


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
