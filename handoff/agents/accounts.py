"""Agents' and supervisors' accounts: creating, listing and logging in.

:class:`AgentStore` is the only code that touches the ``agents`` table. Like the conversation
store its methods are synchronous (routes call them through ``asyncio.to_thread``; Argon2 takes
tens of milliseconds of CPU on purpose), each write is one transaction, and what comes out is a
frozen :class:`AgentRecord`, which never carries the password hash.

Passwords are hashed with Argon2id (argon2-cffi's :class:`~argon2.PasswordHasher`, RFC 9106
low-memory parameters by default). A login whose stored hash was made with other parameters
re-hashes the password with the current ones, so raising the cost needs no migration.

Which team names are valid is the escalation policy's business (the teams its matrix routes
to, :func:`policy_teams`); callers check them with :func:`check_teams` before creating an
account. The store itself takes any non-blank names.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import uuid
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handoff.agents.exceptions import AgentExists, InvalidAgent, UnknownTeam
from handoff.escalation.decision import Category, Severity
from handoff.store.database import for_writing, session_factory
from handoff.store.models import Agent
from handoff.store.states import AgentRole

if TYPE_CHECKING:
    from handoff.escalation.policy import EscalationPolicy

__all__ = [
    "DEFAULT_CAPACITY",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "AgentRecord",
    "AgentRole",
    "AgentStore",
    "check_teams",
    "normalise_username",
    "policy_teams",
]

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # no one types more; longer inputs would only cost hashing time
DEFAULT_CAPACITY = 3
MAX_TEAM_LENGTH = 64  # handoffs.team is a String(64)
MAX_DISPLAY_NAME_LENGTH = 200

# 1 to 64 characters; letters, digits, '.', '_', '-'; a letter or digit at both ends.
_USERNAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent's account as stored, without the password hash."""

    id: str
    username: str
    display_name: str
    role: AgentRole
    teams: tuple[str, ...]
    capacity: int
    active: bool
    created_at: datetime


def normalise_username(username: str) -> str:
    """``username`` as stored: surrounding blanks removed, lowercased."""
    return username.strip().lower()


def policy_teams(policy: EscalationPolicy) -> frozenset[str]:
    """Every team the policy's escalation matrix routes handoffs to."""
    return frozenset(
        policy.matrix.cell(category, severity).team
        for category in Category
        for severity in Severity
    )


def check_teams(teams: Iterable[str], known: Collection[str]) -> None:
    """Raise :class:`UnknownTeam` unless every name in ``teams`` is one of ``known``."""
    unknown = {team.strip() for team in teams} - set(known)
    if unknown:
        raise UnknownTeam(unknown, known)


class AgentStore:
    """Agents' accounts in the service's database (thread-safe).

    ``hasher`` replaces the default Argon2id parameters (tests pass cheap ones).
    """

    def __init__(self, engine: Engine, *, hasher: PasswordHasher | None = None) -> None:
        self._read = session_factory(engine)
        self._write = session_factory(for_writing(engine))
        self._hasher = hasher if hasher is not None else PasswordHasher()

    def create_agent(
        self,
        *,
        username: str,
        display_name: str,
        role: AgentRole | str = AgentRole.AGENT,
        teams: Iterable[str],
        capacity: int = DEFAULT_CAPACITY,
        password: str,
        now: datetime,
    ) -> AgentRecord:
        """Create an active account; ``username`` is stored lowercased.

        Raises:
            InvalidAgent: a malformed username, a blank display name, an unknown role, no
                team or a blank one, a capacity below 1, a password shorter than
                ``MIN_PASSWORD_LENGTH`` (or longer than ``MAX_PASSWORD_LENGTH``).
            AgentExists: the username is taken (whatever its case).
            ValueError: ``now`` is naive.
        """
        row = Agent(
            id=uuid.uuid4().hex,
            username=_valid_username(username),
            display_name=_valid_display_name(display_name),
            role=_valid_role(role).value,
            teams=list(_valid_teams(teams)),
            capacity=_valid_capacity(capacity),
            password_hash=self._hasher.hash(_valid_password(password)),  # outside the transaction
            active=True,
            created_at=_utc(now),
        )
        try:
            with self._writing() as session:
                if self._username_taken(session, row.username):
                    raise AgentExists(row.username)
                session.add(row)
                session.flush()
                record = _record(row)
        except IntegrityError:
            # Two creations of one name racing past the check: the unique constraint decides.
            if self.find_agent(row.username) is not None:
                raise AgentExists(row.username) from None
            raise
        logger.info("agent %s (%s) created for %s", record.username, record.role, record.teams)
        return record

    def get_agent(self, agent_id: str) -> AgentRecord | None:
        """The agent with that id, or ``None``."""
        with self._read() as session:
            row = session.get(Agent, agent_id)
            return None if row is None else _record(row)

    def find_agent(self, username: str) -> AgentRecord | None:
        """The agent with that username (any case), or ``None``."""
        with self._read() as session:
            row = self._by_username(session, normalise_username(username))
            return None if row is None else _record(row)

    def list_agents(self) -> list[AgentRecord]:
        """Every account, inactive ones included, by username."""
        with self._read() as session:
            return [_record(row) for row in session.scalars(select(Agent).order_by(Agent.username))]

    def authenticate(self, username: str, password: str) -> AgentRecord | None:
        """The active agent whose username and password these are, or ``None``.

        An unknown username costs the same Argon2 verification as a known one (against a
        dummy hash), so response times do not tell which usernames exist. A password hashed
        with other parameters than the store's is re-hashed after a successful login.
        """
        if len(password) > MAX_PASSWORD_LENGTH:
            return None  # refused before any lookup: says nothing about the username
        with self._read() as session:
            row = self._by_username(session, normalise_username(username))
            found = None if row is None else (_record(row), row.password_hash)
        if found is None:
            self._verify(self._dummy_hash, password)
            return None
        record, stored_hash = found
        if not self._verify(stored_hash, password) or not record.active:
            return None
        if self._hasher.check_needs_rehash(stored_hash):
            self._rehash(record, stored_hash, password)
        return record

    # --- private ------------------------------------------------------------------------

    @functools.cached_property
    def _dummy_hash(self) -> str:
        # Made with the store's own parameters, so verifying against it costs the same.
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _rehash(self, record: AgentRecord, stored_hash: str, password: str) -> None:
        fresh = self._hasher.hash(password)
        with self._writing() as session:
            # Only if no one changed the hash meanwhile (a password reset wins).
            session.execute(
                update(Agent)
                .where(Agent.id == record.id, Agent.password_hash == stored_hash)
                .values(password_hash=fresh)
            )
        logger.info("agent %s: password re-hashed with the current parameters", record.username)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # One transaction: committed when the block ends, rolled back when it raises.
        with self._write() as session, session.begin():
            yield session

    @staticmethod
    def _by_username(session: Session, username: str) -> Agent | None:
        return session.scalars(select(Agent).where(Agent.username == username)).one_or_none()

    @staticmethod
    def _username_taken(session: Session, username: str) -> bool:
        return session.scalar(select(Agent.id).where(Agent.username == username)) is not None


def _valid_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.fullmatch(name):
        raise InvalidAgent(
            f"username {username!r}: use 1 to 64 of a-z, 0-9, '.', '_' and '-', "
            "starting and ending with a letter or digit (e.g. ana.security)"
        )
    return name


def _valid_display_name(display_name: str) -> str:
    name = display_name.strip()
    if not name or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidAgent(f"display name: give 1 to {MAX_DISPLAY_NAME_LENGTH} characters")
    return name


def _valid_role(role: AgentRole | str) -> AgentRole:
    try:
        return AgentRole(role)
    except ValueError:
        allowed = ", ".join(member.value for member in AgentRole)
        raise InvalidAgent(f"role {role!r}: use one of {allowed}") from None


def _valid_teams(teams: Iterable[str]) -> tuple[str, ...]:
    if isinstance(teams, str):  # "security" would otherwise be seven one-letter teams
        raise InvalidAgent("teams: give a list of team names, not one string")
    names = tuple(dict.fromkeys(team.strip() for team in teams))  # in order, without repeats
    if not names:
        raise InvalidAgent("teams: an agent needs at least one team")
    if any(not name or len(name) > MAX_TEAM_LENGTH for name in names):
        raise InvalidAgent(f"teams: every team name needs 1 to {MAX_TEAM_LENGTH} characters")
    return names


def _valid_capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise InvalidAgent(f"capacity {capacity!r}: give a whole number of 1 or more")
    return capacity


def _valid_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAgent(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidAgent(f"password: use at most {MAX_PASSWORD_LENGTH} characters")
    return password


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware time (UTC)")
    return moment.astimezone(UTC)


def _record(row: Agent) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=AgentRole(row.role),
        teams=tuple(row.teams),
        capacity=row.capacity,
        active=row.active,
        created_at=row.created_at,
    )
