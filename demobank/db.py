"""Engine and session plumbing for the demo bank.

Nothing here runs at import time: callers build the engine with :func:`create_bank_engine`
when they first need it, so importing the package never touches a database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from demobank.exceptions import BankUnavailable
from demobank.models import Base

logger = logging.getLogger(__name__)


def create_bank_engine(url: str) -> Engine:
    """Build an engine for the bank database at ``url``.

    SQLite gets two adjustments: foreign keys are switched on (SQLite leaves them off per
    connection), and an in-memory database uses a single shared connection, because otherwise
    every new connection would see its own, empty database.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # The action server may open the session on another thread than the one that made
        # the connection; sessions are never shared between threads, so this is safe.
        kwargs["connect_args"] = {"check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
    return engine


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``.

    ``expire_on_commit=False`` keeps loaded rows readable after the session commits, so callers
    can format an answer from the objects a query returned once the transaction is over.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create the bank's tables that do not exist yet (existing ones are left alone)."""
    Base.metadata.create_all(engine)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error, always close.

    Driver-level failures (``OperationalError``, ``InterfaceError``... all ``DBAPIError``)
    are re-raised as :class:`BankUnavailable` so callers handle "the bank is down" without
    knowing about SQLAlchemy. Other SQLAlchemy errors are programming errors and propagate.
    """
    session = factory()
    try:
        yield session
        session.commit()
    except DBAPIError as exc:
        _rollback_quietly(session)
        raise BankUnavailable(f"bank database error: {type(exc.orig).__name__}") from exc
    except BaseException:
        _rollback_quietly(session)
        raise
    finally:
        session.close()


def _rollback_quietly(session: Session) -> None:
    # A broken connection can fail the rollback too; the original error is the one to report.
    try:
        session.rollback()
    except SQLAlchemyError:
        logger.warning("rollback failed after a bank database error", exc_info=True)
