"""Access to the bank database for actions: a lazily built engine and a session context.

The database URL is read from ``BANK_DATABASE_URL`` on first use, not at import (rasa-sdk
imports this module at start-up, before anyone could have configured anything), and the
engine is then cached for the life of the process. Tests call :func:`configure` with their
own engine, e.g. an in-memory SQLite database, and :func:`reset` afterwards.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from actions.exceptions import BankConfigurationError
from demobank.db import create_bank_engine, session_factory, session_scope

logger = logging.getLogger(__name__)

URL_ENV_VAR = "BANK_DATABASE_URL"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = REPO_ROOT / "var" / "demobank.sqlite"

_lock = threading.Lock()
_factory: sessionmaker[Session] | None = None
_owned_engine: Engine | None = None


def database_url() -> str:
    """``$BANK_DATABASE_URL``, else the repository's ``var/demobank.sqlite``."""
    return os.environ.get(URL_ENV_VAR) or f"sqlite:///{DEFAULT_DB_PATH}"


def configure(engine: Engine) -> None:
    """Use ``engine`` for every following session (the caller keeps owning it)."""
    global _factory
    reset()
    with _lock:
        _factory = session_factory(engine)


def reset() -> None:
    """Forget the configured engine; one built from the environment is disposed of."""
    global _factory, _owned_engine
    with _lock:
        if _owned_engine is not None:
            _owned_engine.dispose()
        _factory = None
        _owned_engine = None


def _get_factory() -> sessionmaker[Session]:
    global _factory, _owned_engine
    with _lock:
        if _factory is None:
            url = database_url()
            try:
                engine = create_bank_engine(url)
            except ArgumentError as exc:
                raise BankConfigurationError(f"{URL_ENV_VAR} is not a database URL") from exc
            _warn_if_sqlite_file_missing(url)
            _owned_engine = engine
            _factory = session_factory(engine)
            logger.info("bank database: %s", make_url(url).render_as_string(hide_password=True))
        return _factory


def _warn_if_sqlite_file_missing(url: str) -> None:
    # SQLite would silently create an empty file and every query would fail later with
    # "no such table"; say what to do while the cause is still obvious.
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if not Path(parsed.database).exists():
        logger.warning(
            "bank database %s does not exist; run `python -m demobank seed --url %s`",
            parsed.database,
            url,
        )


@contextmanager
def bank_session() -> Iterator[Session]:
    """A session on the bank database that commits on success and rolls back on error.

    Raises ``demobank.exceptions.BankUnavailable`` (or its subclass
    :class:`~actions.exceptions.BankConfigurationError`) when the database cannot be used.
    """
    with session_scope(_get_factory()) as session:
        yield session
