"""The long-lived clients the service shares, and the factories that build them.

One HTTP client (connection pooling to Rasa and the action server), one SQLAlchemy engine per
database and the sentiment classifier with its micro-batcher. :func:`open_resources` builds them
all and releases them on exit; the app's lifespan and the ``handoff ready`` command both use it,
so they probe exactly what the service uses. Building an engine does not connect; the first
query does. A sentiment model that is missing or does not load does not stop the service: the
reason is kept in :class:`SentimentService` and reported by the readiness check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.engine import make_url

from handoff.exceptions import ConfigurationError
from handoff.http_client import create_http_client
from handoff.sentiment.batcher import MicroBatcher
from handoff.settings import SentimentSettings, Settings
from handoff.store.database import create_database_engine

if TYPE_CHECKING:  # torch and transformers load only when a model is actually there
    from handoff.sentiment.classifier import SentimentClassifier

logger = logging.getLogger(__name__)


BUILD_SENTIMENT_MODEL = "make models"
"""The command that builds the sentiment model, for messages about a missing one."""


@dataclass(frozen=True, slots=True)
class SentimentService:
    """The sentiment classifier loaded once at start-up and its running batcher.

    Both are ``None`` when the model could not be loaded; ``problem`` then says why and what
    to run.
    """

    model_dir: Path
    classifier: SentimentClassifier | None = None
    batcher: MicroBatcher | None = None
    problem: str | None = None

    @property
    def available(self) -> bool:
        """Whether messages can be scored."""
        return self.batcher is not None and self.batcher.running


@dataclass(frozen=True, slots=True)
class Resources:
    """The shared clients of one running service (or one ``handoff ready`` run)."""

    http_client: httpx.AsyncClient
    service_engine: Engine
    bank_engine: Engine
    sentiment: SentimentService


def create_service_engine(url: str) -> Engine:
    """An engine for the service's own database at ``url``.

    Built by the store's factory (:func:`handoff.store.database.create_database_engine`):
    for a SQLite file the folder is created when missing and foreign keys, WAL and a busy
    timeout are turned on.
    """
    return create_database_engine(url)


def create_bank_engine(url: str) -> Engine:
    """A read-only engine for the demo bank's database at ``url``.

    The service never writes to the bank. For a SQLite file the connection is opened in
    read-only mode, which also means a missing file is an error instead of a new, empty bank
    that would pass every check.
    """
    parsed = make_url(url)
    sqlite_file = _sqlite_file(parsed)
    if sqlite_file is not None:
        # pysqlite hands the database string to sqlite3.connect(..., uri=True) as is.
        parsed = parsed.set(
            database=sqlite_file.absolute().as_uri(),
            query={**parsed.query, "mode": "ro", "uri": "true"},
        )
    return _create_engine(parsed)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Build the shared clients from ``settings`` and close them all on exit."""
    async with AsyncExitStack() as stack:
        # Its default timeout is Rasa's request timeout, the slowest call the service makes;
        # readiness probes impose their own, shorter limit on top.
        timeout = settings.rasa.request_timeout_seconds
        http_client = await stack.enter_async_context(create_http_client(timeout))
        service_engine = create_service_engine(settings.database.url)
        stack.callback(service_engine.dispose)
        bank_engine = create_bank_engine(settings.bank.url)
        stack.callback(bank_engine.dispose)
        sentiment = await stack.enter_async_context(open_sentiment(settings.sentiment))
        logger.debug("shared HTTP client, database engines and sentiment classifier ready")
        yield Resources(
            http_client=http_client,
            service_engine=service_engine,
            bank_engine=bank_engine,
            sentiment=sentiment,
        )
    logger.debug("shared HTTP client, database engines and sentiment classifier released")


@asynccontextmanager
async def open_sentiment(settings: SentimentSettings) -> AsyncIterator[SentimentService]:
    """Load the sentiment classifier once and run its batcher until exit.

    Never raises for a missing or broken model: the service starts anyway and the returned
    :class:`SentimentService` says why it cannot score (``/readyz`` reports it).
    """
    model_dir = settings.model_dir
    if not model_dir.is_dir():
        problem = f"no sentiment model at {model_dir}: build it with `{BUILD_SENTIMENT_MODEL}`"
        logger.warning("%s; the service starts without sentiment", problem)
        yield SentimentService(model_dir, problem=problem)
        return
    # The thread that loads the model runs every forward pass too (see MicroBatcher).
    executor = ThreadPoolExecutor(1, thread_name_prefix="sentiment")
    try:
        loop = asyncio.get_running_loop()
        classifier = await loop.run_in_executor(executor, load_classifier, settings)
    except Exception as exc:
        executor.shutdown(wait=False)
        problem = (
            f"cannot load the sentiment model at {model_dir}: {type(exc).__name__}: {exc}; "
            f"rebuild it with `{BUILD_SENTIMENT_MODEL}`"
        )
        logger.warning("%s", problem, exc_info=True)
        yield SentimentService(model_dir, problem=problem)
        return
    try:
        async with MicroBatcher(
            classifier,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            executor=executor,
        ) as batcher:
            yield SentimentService(model_dir, classifier=classifier, batcher=batcher)
    finally:
        executor.shutdown(wait=False)


def load_classifier(settings: SentimentSettings) -> SentimentClassifier:
    """Load the classifier that ``settings`` describe (blocking: seconds for a real model)."""
    # Imported here: torch and transformers take seconds to import, which commands that never
    # score (``handoff --version``, a service without a model) should not pay.
    from handoff.sentiment.classifier import SentimentClassifier

    return SentimentClassifier.load(
        settings.model_dir,
        threads=settings.threads,
        max_length=settings.max_length,
        precision=settings.precision,
        runtime=settings.runtime,
    )


def _sqlite_file(url: URL) -> Path | None:
    # None for other backends and for in-memory SQLite ("sqlite://", "sqlite:///:memory:").
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _create_engine(url: URL) -> Engine:
    try:
        return create_engine(url)
    except ImportError as exc:  # the URL's DBAPI driver (psycopg, pymysql...) is missing
        raise ConfigurationError(
            f"cannot use {url.render_as_string(hide_password=True)}: {exc}"
        ) from exc
