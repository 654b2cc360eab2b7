"""Alembic environment of the handoff service's database.

Run through :func:`handoff.store.database.upgrade_database` (or any Alembic command given
:func:`handoff.store.database.alembic_config`). A connection handed over in
``config.attributes["connection"]`` is used as it is, inside the caller's transaction;
otherwise an engine is built from ``sqlalchemy.url`` by the service's own factory, so SQLite
gets the same pragmas as the running service.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from handoff.store.database import create_database_engine
from handoff.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # BEGIN is emitted by the engine's listener, so DDL is transactional on SQLite too.
        transactional_ddl=True,
    )


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
