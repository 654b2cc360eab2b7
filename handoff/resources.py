"""The long-lived clients the service shares, and the factories that build them.

One HTTP client (connection pooling to Rasa and the action server) and one SQLAlchemy engine per
database. :func:`open_resources` builds them all and releases them on exit; the app's lifespan
and the ``handoff ready`` command both use it, so they probe exactly what the service uses.
Building an engine does not connect; the first query does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import URL, Engine, create_engine
from sqlalchemy.engine import make_url

from handoff import __version__
from handoff.exceptions import ConfigurationError
from handoff.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resources:
    """The shared clients of one running service (or one ``handoff ready`` run)."""

    http_client: httpx.AsyncClient
    service_engine: Engine
    bank_engine: Engine


def create_http_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client for Rasa and the action server.

    Its default timeout is Rasa's request timeout, the slowest call the service makes;
    readiness probes impose their own, shorter limit on top.
    """
    return httpx.AsyncClient(
        timeout=settings.rasa.request_timeout_seconds,
        headers={"User-Agent": f"handoff-desk/{__version__}"},
    )


def create_service_engine(url: str) -> Engine:
    """An engine for the service's own database at ``url``.

    The service owns this database, so for a SQLite file the folder is created when missing
    (a fresh checkout has no ``var/``); SQLite creates the file itself on first connection.
    """
    parsed = make_url(url)
    sqlite_file = _sqlite_file(parsed)
    if sqlite_file is not None:
        try:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the folder of the service database {sqlite_file}: {exc}"
            ) from exc
    return _create_engine(parsed)


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
        http_client = await stack.enter_async_context(create_http_client(settings))
        service_engine = create_service_engine(settings.database.url)
        stack.callback(service_engine.dispose)
        bank_engine = create_bank_engine(settings.bank.url)
        stack.callback(bank_engine.dispose)
        logger.debug("shared HTTP client and database engines ready")
        yield Resources(
            http_client=http_client, service_engine=service_engine, bank_engine=bank_engine
        )
    logger.debug("shared HTTP client and database engines released")


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
