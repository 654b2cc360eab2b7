"""Fixtures of the conversation store's tests: every test runs on SQLite and on PostgreSQL.

The schema is migrated once per backend and session; after each test the tables are emptied,
because the store commits its own transactions (so a wrapping rolled-back transaction, the
usual trick, would not isolate them) and the concurrency tests use many connections.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from postgres_server import BACKENDS, PostgresServer
from sqlalchemy import Engine

from handoff.store.database import create_database_engine, upgrade_database
from handoff.store.models import Base
from handoff.store.repository import ConversationStore

_fresh_names = itertools.count(1)


def backend_url(request: pytest.FixtureRequest, tmp_dir_factory: pytest.TempPathFactory) -> str:
    """An empty database of the requested backend (``request.param``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_dir_factory.mktemp('sqlite')}/handoff.sqlite"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"handoff_store_{next(_fresh_names)}")


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """An engine on a database migrated to head, one per backend for the whole session."""
    engine = create_database_engine(backend_url(request, tmp_path_factory))
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated engine, its tables emptied after the test."""
    yield migrated_engine
    with migrated_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def store(engine: Engine) -> ConversationStore:
    """A store on an empty, migrated database."""
    return ConversationStore(engine)


@pytest.fixture(params=BACKENDS)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The URL of a new, empty database (no tables), for migration tests."""
    return backend_url(request, tmp_path_factory)
