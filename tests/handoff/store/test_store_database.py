"""Engines and migrations of the service's database."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.exceptions import ConfigurationError
from handoff.store.database import (
    alembic_config,
    create_database_engine,
    for_writing,
    upgrade_database,
)
from handoff.store.models import Base

HEAD = "0005"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrations_bring_an_empty_database_to_the_models(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no working-directory assumption (no alembic.ini around)
    engine = create_database_engine(empty_database_url)
    try:
        assert inspect(engine).get_table_names() == []

        upgrade_database(empty_database_url)  # by URL: builds and disposes its own engine

        assert current_revision(engine) == HEAD
        assert set(inspect(engine).get_table_names()) == {
            "alembic_version",
            "conversations",
            "messages",
            "handoffs",
            "agents",
            "resolutions",
            "sla_events",
            "review_items",
        }
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
        with engine.begin() as connection:  # what `alembic check` does, through our env.py
            config = alembic_config()
            config.attributes["connection"] = connection
            command.check(config)
    finally:
        engine.dispose()


def test_upgrading_twice_and_downgrading_work(empty_database_url: str) -> None:
    engine = create_database_engine(empty_database_url)
    try:
        upgrade_database(engine)
        upgrade_database(engine)  # already at head: nothing to do
        assert current_revision(engine) == HEAD

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        upgrade_database(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO messages (conversation_id, seq, sender, text, payload, created_at)"
                " VALUES ('no-such-conversation', 1, 'bot', 'x', '{}', CURRENT_TIMESTAMP)"
            )
        )


def test_sqlite_connections_get_the_service_pragmas(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path}/new/folder/handoff.sqlite")
    try:
        assert (tmp_path / "new" / "folder").is_dir()
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar_one() == 1
            assert pragma("PRAGMA journal_mode").scalar_one() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar_one() == 30_000
    finally:
        engine.dispose()


def test_sqlite_ddl_runs_inside_the_transaction(tmp_path: Path) -> None:
    # Without the engine's own BEGIN, the sqlite3 module would commit DDL on the spot.
    engine = create_database_engine(f"sqlite:///{tmp_path}/handoff.sqlite")
    try:
        with pytest.raises(RuntimeError), engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE note (body TEXT)")
            raise RuntimeError("roll back")
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    engine = create_database_engine("sqlite://")
    try:
        upgrade_database(engine)
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_a_folder_that_cannot_be_created_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(ConfigurationError, match="cannot create the folder"):
        create_database_engine(f"sqlite:///{blocker}/handoff.sqlite")


def test_sqlite_writers_queue_in_process_and_every_ending_frees_the_next(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/handoff.sqlite"
    engine, other_engine = create_database_engine(url), create_database_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE note (body TEXT)")
        writer, other = for_writing(engine), for_writing(other_engine)
        # Ended by commit, by rollback, and by a session closed without either: each frees
        # the lock (a second writer would otherwise wait out the 30 s timeout).
        with writer.begin() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES ('committed')")
        with pytest.raises(RuntimeError), writer.begin() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES ('rolled back')")
            raise RuntimeError("roll back")
        with Session(writer) as session:
            session.execute(text("INSERT INTO note VALUES ('never committed')"))

        # Two engines on one file share the lock: the second writer waits for the first.
        order: list[str] = []
        with other.begin() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES ('first')")
            waiting = threading.Thread(target=write_second, args=(writer, order))
            waiting.start()
            waiting.join(timeout=0.3)
            assert waiting.is_alive()  # queued behind the open write transaction
            order.append("first committed")
        waiting.join(timeout=10)
        assert order == ["first committed", "second"]
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT body FROM note").scalars().all()
        assert rows == ["committed", "first", "second"]
    finally:
        engine.dispose()
        other_engine.dispose()


def write_second(writer: Engine, order: list[str]) -> None:
    with writer.begin() as connection:
        connection.exec_driver_sql("INSERT INTO note VALUES ('second')")
        order.append("second")
