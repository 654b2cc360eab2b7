"""The shared clients: engine factories and their release."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from handoff.exceptions import ConfigurationError
from handoff.resources import create_bank_engine, create_service_engine, open_resources
from handoff.settings import (
    BankSettings,
    DatabaseSettings,
    SentimentSettings,
    Settings,
)


def test_service_engine_creates_the_folder_of_its_sqlite_file(tmp_path: Path) -> None:
    engine = create_service_engine(f"sqlite:///{tmp_path}/new/folder/handoff.sqlite")
    try:
        assert (tmp_path / "new" / "folder").is_dir()
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE note (body TEXT)"))
    finally:
        engine.dispose()


def test_service_engine_reports_a_folder_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(ConfigurationError, match="cannot create the folder"):
        create_service_engine(f"sqlite:///{blocker}/handoff.sqlite")


def test_bank_engine_reads_but_never_writes(tmp_path: Path) -> None:
    bank_file = tmp_path / "with space" / "demobank.sqlite"
    bank_file.parent.mkdir()
    with sqlite3.connect(bank_file) as connection:
        connection.execute("CREATE TABLE customers (id TEXT)")
        connection.execute("INSERT INTO customers VALUES ('c-1')")
    engine = create_bank_engine(f"sqlite:///{bank_file}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id FROM customers")).scalar_one() == "c-1"
        with pytest.raises(OperationalError, match="readonly"), engine.begin() as connection:
            connection.execute(text("DELETE FROM customers"))
    finally:
        engine.dispose()


def test_a_missing_database_driver_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A valid URL of a known dialect whose driver cannot be imported (None blocks the import).
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(ConfigurationError, match="psycopg") as excinfo:
        create_bank_engine("postgresql+psycopg://bank:secret@localhost/bank")

    assert "secret" not in str(excinfo.value)


async def test_open_resources_releases_everything(
    tmp_path: Path, tiny_sentiment_model: Path
) -> None:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
        bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
        sentiment=SentimentSettings(model_dir=tiny_sentiment_model, threads=1),
    )

    async with open_resources(settings) as resources:
        assert resources.sentiment.available
        batcher = resources.sentiment.batcher
        assert batcher is not None
        assert (await batcher.score("my card is blocked")).label in {
            "negative",
            "neutral",
            "positive",
        }
        assert not resources.http_client.is_closed
        assert resources.http_client.timeout.read == settings.rasa.request_timeout_seconds
        with resources.service_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        pool = resources.service_engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedin() == 1

    assert resources.http_client.is_closed
    # dispose() replaced the pool with an empty one: the pooled connection is closed.
    new_pool = resources.service_engine.pool
    assert isinstance(new_pool, QueuePool)
    assert new_pool is not pool
    assert new_pool.checkedin() == 0
    assert not batcher.running


async def test_open_resources_without_a_sentiment_model(tmp_path: Path) -> None:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/handoff.sqlite"),
        bank=BankSettings(url=f"sqlite:///{tmp_path}/demobank.sqlite"),
        sentiment=SentimentSettings(model_dir=tmp_path / "absent"),
    )

    async with open_resources(settings) as resources:
        assert not resources.sentiment.available
        assert resources.sentiment.classifier is None
        assert resources.sentiment.problem == (
            f"no sentiment model at {tmp_path / 'absent'}: build it with `make models`"
        )
