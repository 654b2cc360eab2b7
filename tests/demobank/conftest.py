"""Fixtures for the demo bank tests: a freshly seeded in-memory bank per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from demobank.db import create_bank_engine, session_factory
from demobank.seed import create_demo_bank

SEEDED_AT = datetime(2024, 11, 27, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def seeded_at() -> datetime:
    """The instant the test bank was seeded at."""
    return SEEDED_AT


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An in-memory bank with the schema and the demo customers."""
    engine = create_bank_engine("sqlite://")
    create_demo_bank(engine, SEEDED_AT)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the seeded bank."""
    with session_factory(engine)() as session:
        yield session
