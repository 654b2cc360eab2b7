"""REST routes of the agents' accounts: log in, and who am I.

* ``POST /api/agents/login`` takes ``{"username", "password"}`` and answers ``{"token",
  "expires_at", "agent": {...}}``; a wrong username or password (or an inactive account) is a
  401 that does not say which. Repeated failures lock the username, or the client's address,
  for a while (:class:`~handoff.limits.LoginThrottle`): a 429 with ``Retry-After``, whatever
  the password and whether or not the username exists.
* ``GET /api/agents/me`` answers the account of the ``Authorization: Bearer <token>`` header;
  a missing, invalid or expired token, or an account deactivated since, is a 401.
* ``GET /api/agents/canned-responses`` answers the canned responses of the agent's teams
  (every one for a supervisor), from ``app.state.desk``; same 401s.
* ``GET /api/agents/overview`` answers the supervisor's overview (queues per team, agents'
  presence and load, SLA alerts, today's escalations by reason); a 403 for an agent who is
  not a supervisor. "Today" starts at midnight UTC.

The app's lifespan puts an :class:`~handoff.agents.accounts.AgentStore` in
``app.state.agent_store``, the settings in ``app.state.settings`` and the limiters in
``app.state.limits``. :func:`current_agent` is the dependency other agent routes use
(:func:`optional_agent` where a token is optional); :func:`agent_clock` is the clock, which
tests override (the login throttle reads it too).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from handoff.agents.accounts import (
    MAX_PASSWORD_LENGTH,
    AgentRecord,
    AgentStore,
    normalise_username,
)
from handoff.agents.canned import CannedResponse
from handoff.agents.demo import DEMO_PASSWORD
from handoff.agents.desk import AgentDesk
from handoff.agents.exceptions import AgentTokenRejected
from handoff.agents.overview import Overview, build_overview
from handoff.agents.tokens import issue_agent_token, verify_agent_token
from handoff.gateway.customer_socket import client_address
from handoff.limits import LoginThrottle
from handoff.request_bodies import StrictJsonRoute
from handoff.settings import AgentSettings, Settings
from handoff.store.agent_work import AgentWorkStore
from handoff.store.states import AgentRole

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/agents", tags=["agents"], route_class=StrictJsonRoute)

_bearer = HTTPBearer(auto_error=False, description="An agent token from POST /api/agents/login")

BAD_CREDENTIALS = "unknown username or wrong password"
TOO_MANY_FAILURES = "too many failed logins"


class LoginRequest(BaseModel):
    """An agent's credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class AgentView(BaseModel):
    """An agent's account as the agent's desk shows it."""

    id: str
    username: str
    display_name: str
    role: AgentRole
    teams: list[str]

    @classmethod
    def of(cls, agent: AgentRecord) -> AgentView:
        """The view of a stored account."""
        return cls(
            id=agent.id,
            username=agent.username,
            display_name=agent.display_name,
            role=agent.role,
            teams=list(agent.teams),
        )


class LoginResponse(BaseModel):
    """A fresh access token, to send as ``Authorization: Bearer <token>``."""

    token: str
    expires_at: datetime
    agent: AgentView


def agent_clock() -> datetime:
    """The current time (a dependency, so tests can fix it)."""
    return datetime.now(UTC)


def _agent_store(request: Request) -> AgentStore:
    store: AgentStore = request.app.state.agent_store
    return store


def _agent_settings(request: Request) -> AgentSettings:
    settings: Settings = request.app.state.settings
    return settings.agents


def _demo_mode(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.demo_mode


def _login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.limits.logins
    return throttle


def require_supervisor(agent: AgentRecord, what: str) -> None:
    """A 403 unless ``agent`` is a supervisor; ``what`` names what is theirs alone."""
    if agent.role is not AgentRole.SUPERVISOR:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{what} for supervisors")


def _unauthorized(detail: str) -> HTTPException:
    # RFC 6750 section 3: a 401 names the scheme the client should use.
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_agent(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    store: Annotated[AgentStore, Depends(_agent_store)],
    settings: Annotated[AgentSettings, Depends(_agent_settings)],
    now: Annotated[datetime, Depends(agent_clock)],
) -> AgentRecord:
    """The active agent whose token the request carries; a 401 otherwise."""
    if credentials is None:
        raise _unauthorized("send Authorization: Bearer <token> (POST /api/agents/login)")
    try:
        claims = verify_agent_token(
            credentials.credentials,
            secret=settings.require_token_secret(),
            now=now,
            max_lifetime=settings.token_ttl,
        )
    except AgentTokenRejected as exc:
        logger.info("agent token rejected: %s", exc)
        advice = "log in again" if exc.reason_code == "expired" else "not a valid agent token"
        raise _unauthorized(f"{exc.reason_code}: {advice}") from None
    agent = await asyncio.to_thread(store.get_agent, claims.agent_id)
    if agent is None or not agent.active:
        raise _unauthorized("the token's account no longer exists or is deactivated")
    return agent


async def optional_agent(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    store: Annotated[AgentStore, Depends(_agent_store)],
    settings: Annotated[AgentSettings, Depends(_agent_settings)],
    now: Annotated[datetime, Depends(agent_clock)],
) -> AgentRecord | None:
    """As :func:`current_agent` when the request carries a token; ``None`` when it carries none.

    For routes that answer everyone but tell an agent more. A token that is sent but not
    valid is still a 401: the caller meant to authenticate and should hear that it failed.
    """
    if credentials is None:
        return None
    return await current_agent(credentials, store, settings, now)


@router.post(
    "/login",
    responses={
        status.HTTP_401_UNAUTHORIZED: {"description": BAD_CREDENTIALS},
        status.HTTP_429_TOO_MANY_REQUESTS: {
            "description": f"{TOO_MANY_FAILURES}; retry after the Retry-After header's seconds"
        },
    },
)
async def login(
    body: LoginRequest,
    request: Request,
    store: Annotated[AgentStore, Depends(_agent_store)],
    settings: Annotated[AgentSettings, Depends(_agent_settings)],
    throttle: Annotated[LoginThrottle, Depends(_login_throttle)],
    now: Annotated[datetime, Depends(agent_clock)],
    demo_mode: Annotated[bool, Depends(_demo_mode)],
) -> LoginResponse:
    """Exchange an agent's username and password for an access token."""
    account, address = normalise_username(body.username), client_address(request)
    verdict = throttle.attempt(account, address, now.timestamp())
    if not verdict.allowed:
        # Checked before the password, so a locked account is refused even with the right one,
        # and an unknown username is locked the same way as a real one.
        logger.info("agent login for %r from %s refused: locked out", account, address)
        wait = verdict.retry_after_seconds
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"{TOO_MANY_FAILURES}: retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if not demo_mode and body.password == DEMO_PASSWORD:
        # The demo agents' password is public: outside demo mode it opens no account, even
        # one a demo left behind in this database.
        logger.warning("refused the public demo password for %r outside demo mode", body.username)
        raise _unauthorized(BAD_CREDENTIALS)
    # Argon2 is CPU work by design: off the event loop.
    agent = await asyncio.to_thread(store.authenticate, body.username, body.password)
    if agent is None:
        logger.info("failed agent login for %r", body.username)
        raise _unauthorized(BAD_CREDENTIALS)
    throttle.succeeded(account, address, now.timestamp())
    ttl = settings.token_ttl
    now = now.replace(microsecond=0)  # the token's exp is whole seconds: expires_at matches it
    token = issue_agent_token(agent, secret=settings.require_token_secret(), now=now, ttl=ttl)
    logger.info("agent %s logged in", agent.username)
    return LoginResponse(token=token, expires_at=now + ttl, agent=AgentView.of(agent))


@router.get(
    "/me",
    responses={status.HTTP_401_UNAUTHORIZED: {"description": "no valid agent token"}},
)
async def me(agent: Annotated[AgentRecord, Depends(current_agent)]) -> AgentView:
    """The account of the agent whose token the request carries."""
    return AgentView.of(agent)


@router.get(
    "/canned-responses",
    summary="The canned responses of the agent's teams",
    responses={401: {"description": "No valid agent token"}},
)
async def canned_responses(
    request: Request, agent: Annotated[AgentRecord, Depends(current_agent)]
) -> list[CannedResponse]:
    """The ready-made replies this agent may use, in file order."""
    desk: AgentDesk = request.app.state.desk
    return desk.canned_responses(agent)


@router.get(
    "/overview",
    summary="The supervisor's overview",
    responses={
        401: {"description": "No valid agent token"},
        403: {"description": "The account is not a supervisor's"},
    },
)
async def overview(
    request: Request,
    agent: Annotated[AgentRecord, Depends(current_agent)],
    store: Annotated[AgentStore, Depends(_agent_store)],
    now: Annotated[datetime, Depends(agent_clock)],
) -> Overview:
    """Every team's queue, every agent's presence and load, the SLA warnings and breaches of
    open handoffs, and the escalations queued since midnight UTC by reason."""
    require_supervisor(agent, "the overview is")
    desk: AgentDesk = request.app.state.desk
    work: AgentWorkStore = request.app.state.work_store
    settings: Settings = request.app.state.settings
    day_start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    # The desk's state lives on the event loop: read it here, the database on a thread.
    teams, presence = desk.team_routing(), desk.presence()

    def read() -> Overview:
        return build_overview(
            now=now,
            day_start=day_start,
            teams=teams,
            agents=[a for a in store.list_agents() if a.active],
            presence=presence,
            open_handoffs=work.open_handoffs(with_briefs=False),
            customers=work.queued_customers(),
            sla_events=work.open_sla_events(),
            todays_handoffs=work.handoffs_queued_since(day_start),
            warning_fraction=settings.monitor.warning_fraction,
        )

    return await asyncio.to_thread(read)
